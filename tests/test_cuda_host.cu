/* test_cuda_host.cu - the host-side logic of medvol_cuda.h checked without a GPU.

   The parts of the CUDA implementation that are plain arithmetic run here on
   the host, against medvol.h's CPU path or a float64 definition:
   - statistics: the reduction's accumulate / merge functions in the
     kernels' partition and combination order, against mv_compute_stats;
   - dtype conversion: mv__cu_convert1 (the conversion kernel's element
     function) for all 144 pairs of GPU dtypes, scaled or not, both
     roundings, against mv_convert_buffer, bit for bit;
   - spatial moves: the voxel map derived from mv_pipeline_geometry and the
     gather parameters (bounds, signed strides, base), applied by the same
     index formula as mv__cu_gather_kernel, against mv_pipeline's bytes and
     affine (crop/pad, box, flip, permute, rot90, reorient; 5 dtypes);
   - centred FFT: the layout (mv__cu_fftc_setup) and the modulation factors
     (mv__cu_mod_factor, the very function the kernel calls) around a plain
     float64 DFT standing in for cuFFT, against fftshift(fft(ifftshift(x)));
   - resampling: mv__cu_rs_coords / _taps / _sample / _inside (the kernel's
     own functions) against a float64 scipy-zoom reference; cubic: the
     device pipeline's item functions (guard, x / y / z prefilter lines,
     mv__cu_bs_taps / _sample) against mv_resample_into (zooms and a general
     map, edge and fill, one-voxel axes, scaled int16, values near FLT_MAX)
     within 1e-5 of the range, and the line recursion against the B-spline
     interpolation condition;
   - displacement fields: the warp's and the composition's maps
     (mv__cu_fd_warp_map / _compose_map) and element functions
     (mv__cu_fd_coords, _inside, _sample, _compose_at with mv__cu_rs_sample)
     over every voxel, against mv_field_warp_into / mv_field_compose_into,
     bit for bit (linear, nearest and cubic, fill or edge, 2D and 3D
     fields); Jacobian determinants (mv__cu_jdet) and the folds' partial
     sums against mv_field_jacobian_into / mv_field_folds, bit for bit;
     the inversion's steps (mv__cu_inv_at, the rows', blocks' and total
     residual sums, the stopping test) against mv_field_invert_into: field,
     iterations and residuals bit for bit;
   - proton transport: the CPU plan's tables packed as the device gets them
     (mv__cu_tr_pack), then the device's step and apply sequences
     (mv__cu_tr_run_step / _run_apply) with a host launcher that runs each
     kernel's item functions over every (bin, cell), against
     mv_transport_apply and mv_transport_step: fluence, dose and balance bit
     for bit (5 grids x Lie/Strang x fused or not, 3 operators, 4 steps);
   - the demons update: mv__cu_dm_force_at over every voxel and the MSE's
     row / block / final sums in the kernels' order, against
     mv_demons_update_into, bit for bit (3D, 2D, a flat patch, a NaN,
     uneven blocks of rows); the exponential's norm, squarings and
     compositions against mv_field_exp_into, bit for bit;
   - metrics with gradients: mv__cu_met_voxel over the kernel's partition
     (grid-stride threads, the block tree, blocks in order) and the host's
     finish, against mv_metric_evaluate (MSE, NCC, Mattes MI; full, stride,
     random, auto, a fixed mask; rigid, affine, 2D similarity): value and
     gradient within 1e-9 relative (MI, whose histogram is fixed point:
     1e-6), sample counts exact; moving masks and jittered random samples
     the same way (and the checks that the mask drops samples and the
     jitter moves the value); LNCC's five steps through the kernels' item
     functions (fill, row sums, box lines, centres, gradient rows) and the
     host's row sums and box sequence: the value bit for bit, the gradient
     within 1e-9 (translation, rigid, affine, 2D rigid / similarity, radius
     1..7, odd sizes, fixed and moving masks);
   - CG-SENSE: the dot products' fixed chunk / lane / tree order, A^H y, one
     normal-operator application (both FFT layouts) and whole solves with the
     element functions around a float64 DFT standing in for cuFFT, against
     mv_cgsense_adjoint and mv_cgsense_into (2D multi-slice, 3D, odd sizes,
     lambda, tolerance stopping);
   - GRAPPA application: w(x) (mv__cu_gr_taps, mv__cu_gr_wx) against
     mv_grappa_column_weights bit for bit, and the application's element
     functions in the kernels' order around a float64 DFT standing in for
     cuFFT, against mv_grappa_apply_into (2D, odd, multi-slice, batch, 3D);
   - NUFFT: the device plan's order, bins and kernel values built from the
     CPU plan's tables (mv_nufft_get_tables) as mv_cuda_nufft_plan_create
     does, kernel values (mv__cu_nu_kernel) bit for bit against the CPU
     plan's and within 3e-7 of phi; the bins around every tile cover every
     point that reaches its cells (every grid size 16..50, width 2..8); then
     forward and adjoint through the kernels' element functions
     (mv__cu_nu_spread_item / _spread_cell / _interp_point / _image_cell /
     _koff; every grid cell written once) with a float64 DFT for cuFFT,
     against mv_nufft_execute (relative l2 <= 1e-5) and a float64 NUDFT
     (<= tol): 2D, 2D in the x-z plane, 3D, odd sizes, block layouts,
     coil batches with a remainder, tol 1e-2 .. 1e-6. MV_VERBOSE=1 prints
     the errors.
   - non-Cartesian CG-SENSE: the CPU's NUFFT plan and Toeplitz kernel
     taken as mv_cuda_cgsense_nc_into takes them (its option and geometry
     functions), then A^H y (the device NUFFT's emulation above and
     mv__cu_cg_reduce), one normal operator (mv__cu_tp_pad / _weight /
     _cell and mv__cu_cg_reduce around a float64 DFT of the 2N grid, coil
     batches with a remainder) and whole solves (the shared CG driver's
     steps), against mv_cgsense_adjoint, sum_c conj(S_c)
     mv_nufft_toeplitz_apply(S_c x) and mv_cgsense_nc_into (2D odd, frames,
     opts.slices, a trajectory per frame, 3D kooshball; lambda, tolerance
     stopping); bad arguments refused with the argument named, before any
     device work;
   What this cannot check: the kernels' thread indexing, launches, memory,
   cuFFT itself. tests/test_cuda.cu does that on a GPU.
   Built by nvcc with MEDVOL_CUDA_IMPLEMENTATION (it calls static functions);
   runs on any machine, GPU or not. */
#define MEDVOL_CUDA_IMPLEMENTATION
#include "../medvol_cuda.h"
#include "cuda_test_data.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <algorithm>
#include <vector>

/* ---- spatial ---- */
static int fails = 0, checks = 0;
static void run(const mv_vol *h, mv_op op, const char *what)
{
    mv_vol g, cpu;
    double M[4][4];
    mv__cu_gather gt;
    int in_axis_of[3];
    int64_t od[3];
    unsigned char fillb[16];
    mv_spatial_opts so;
    memset(&so, 0, sizeof(so));
    checks++;
    so.fill = -7.25;
    if (op.kind == MV_OP_CROP_OR_PAD || op.kind == MV_OP_BOX) op.fill = so.fill;
    mv_status s1 = mv_pipeline_geometry(h, &op, 1, &g);
    mv_status s2 = mv__cu_voxel_map(h, &op, M);
    for (int a = 0; a < 3; a++) od[a] = g.ndim > a ? g.dim[a] : 1;
    mv_status s3 = mv__cu_gather_from_map(M, h, od, &gt, in_axis_of);
    mv_status s4 = mv_pipeline(h, &op, 1, &cpu, NULL);
    if (s1 || s2 || s3 || s4) { printf("FAIL %s: status %d %d %d %d %s\n", what, s1, s2, s3, s4, mv_last_error()); fails++; return; }
    gt.in_frame = h->dim[0] * (h->ndim > 1 ? h->dim[1] : 1) * (h->ndim > 2 ? h->dim[2] : 1);
    gt.frames = mv_vol_count(h) / gt.in_frame;
    gt.out_frame = od[0] * od[1] * od[2];
    mv__cu_fill_bytes(so.fill, h->dtype, fillb);
    size_t es = mv_dtype_size(h->dtype);
    unsigned char *out = (unsigned char *)malloc(mv_vol_bytes(&cpu));
    for (int64_t f = 0; f < gt.frames; f++)
        for (int64_t o2 = 0; o2 < od[2]; o2++)
            for (int64_t o1 = 0; o1 < od[1]; o1++)
                for (int64_t o0 = 0; o0 < od[0]; o0++) {
                    unsigned char *d = out + (size_t)(f * gt.out_frame + (o2 * od[1] + o1) * od[0] + o0) * es;
                    bool inside = o0 >= gt.lo[0] && o0 < gt.hi[0] && o1 >= gt.lo[1] && o1 < gt.hi[1] && o2 >= gt.lo[2] && o2 < gt.hi[2];
                    if (inside) memcpy(d, (unsigned char *)h->data + (size_t)(f * gt.in_frame + gt.base + o0 * gt.step[0] + o1 * gt.step[1] + o2 * gt.step[2]) * es, es);
                    else memcpy(d, fillb, es);
                }
    int ok = memcmp(out, cpu.data, mv_vol_bytes(&cpu)) == 0 && memcmp(g.affine, cpu.affine, sizeof(g.affine)) == 0;
    for (int a = 0; a < MV_MAX_DIMS; a++) ok &= g.dim[a] == cpu.dim[a];
    if (!ok) { printf("FAIL %s\n", what); fails++; }
    free(out);
    mv_free(&cpu);
}

static void check_spatial(void)
{
    const mv_dtype dts[] = {MV_DT_U8, MV_DT_I16, MV_DT_F32, MV_DT_C64, MV_DT_RGB24};
    const int64_t shapes[3][4] = {{37, 29, 13, 1}, {64, 33, 1, 1}, {19, 7, 5, 3}};
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    static const char *codes[4] = {"RAS", "LPS", "PIR", "SLA"};
    for (int s = 0; s < 3; s++) for (int k = 0; k < 5; k++) {
        mv_vol h;
        int nd = shapes[s][3] > 1 ? 4 : 3;
        mv_vol_alloc(&h, dts[k], nd, shapes[s], NULL);
        for (size_t i = 0; i < mv_vol_bytes(&h); i++) ((unsigned char *)h.data)[i] = (unsigned char)(i * 131 + 7);
        if (mv_dtype_is_float(dts[k]) || mv_dtype_is_complex(dts[k])) for (size_t i = 0; i < mv_vol_bytes(&h) / 4; i++) ((float *)h.data)[i] = (float)i;
        h.affine[0][0] = 0; h.affine[0][1] = -1.25; h.affine[0][3] = 40;
        h.affine[1][0] = 0.9; h.affine[1][1] = 0; h.affine[1][3] = -12;
        h.affine[2][2] = 2; h.affine[2][3] = 7;
        int64_t shape[3] = {shapes[s][0] + 3, shapes[s][1] > 4 ? shapes[s][1] - 3 : shapes[s][1] + 2, 0};
        int64_t start[3] = {-2, 3, 1}, size[3] = {shapes[s][0] - 1, shapes[s][1] + 5, 4};
        char w[64];
        snprintf(w, 64, "crop %d %d", s, k); run(&h, mv_op_crop_or_pad(shape[0], shape[1], shape[2], 0), w);
        snprintf(w, 64, "box %d %d", s, k); run(&h, mv_op_box(start, size, 0), w);
        for (int a = 0; a < 8; a++) { snprintf(w, 64, "flip %d %d %d", s, k, a); run(&h, mv_op_flip(a), w); }
        for (int a = 0; a < 6; a++) { snprintf(w, 64, "perm %d %d %d", s, k, a); run(&h, mv_op_permute(perms[a][0], perms[a][1], perms[a][2]), w); }
        for (int a = 0; a < 4; a++) {
            snprintf(w, 64, "rot90 %d %d %d", s, k, a); run(&h, mv_op_rot90(a - 1, a % 3, (a + 1) % 3), w);
            snprintf(w, 64, "reorient %d %d %s", s, k, codes[a]); run(&h, mv_op_reorient(codes[a]), w);
        }
        mv_free(&h);
    }
}

/* ---- centred FFT ---- */
static const double PI = 3.14159265358979323846;
/* DFT of every line along axis a (sign sg, scale sc), optional shifts around it */
static void dft_axis(double *x, const int64_t n[3], int64_t frames, int a, double sg, int centred)
{
    int64_t len = n[a], stride = a == 0 ? 1 : a == 1 ? n[0] : n[0] * n[1], count = n[0] * n[1] * n[2] * frames / len;
    double *t = (double *)malloc(len * 16), *X = (double *)malloc(len * 16);
    for (int64_t line = 0; line < count; line++) {
        int64_t below = line % stride, above = line / stride, base = below + above * stride * len;
        for (int64_t i = 0; i < len; i++) {
            int64_t j = centred ? (i + len / 2) % len : i;
            t[2 * i] = x[2 * (base + j * stride)]; t[2 * i + 1] = x[2 * (base + j * stride) + 1];
        }
        for (int64_t k = 0; k < len; k++) {
            double re = 0, im = 0;
            for (int64_t i = 0; i < len; i++) {
                double ang = sg * 2.0 * PI * (double)((i * k) % len) / (double)len, c = cos(ang), s = sin(ang);
                re += t[2 * i] * c - t[2 * i + 1] * s; im += t[2 * i] * s + t[2 * i + 1] * c;
            }
            double sc = centred ? 1.0 / sqrt((double)len) : 1.0;
            X[2 * k] = re * sc; X[2 * k + 1] = im * sc;
        }
        for (int64_t k = 0; k < len; k++) {
            int64_t j = centred ? ((k - len / 2) % len + len) % len : k;
            x[2 * (base + k * stride)] = X[2 * j]; x[2 * (base + k * stride) + 1] = X[2 * j + 1];
        }
    }
    free(t); free(X);
}

static void check_fftc(void)
{
    struct { int64_t d[4]; unsigned axes; } cases[] = {
        {{8, 6, 4, 1}, 7}, {{7, 5, 3, 1}, 7}, {{6, 5, 4, 3}, 7}, {{16, 12, 1, 2}, 3},
        {{5, 8, 6, 2}, 6}, {{9, 4, 2, 1}, 1}, {{10, 1, 7, 1}, 5}, {{12, 4, 1, 1}, 7}, {{6, 3, 10, 1}, 4},
    };
    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        for (int inv = 0; inv < 2; inv++) {
            mv_vol h;
            mv_vol_alloc(&h, MV_DT_C64, 4, cases[c].d, NULL);
            int64_t n = mv_vol_count(&h);
            double *ref = (double *)malloc(n * 16), *emu = (double *)malloc(n * 16);
            for (int64_t i = 0; i < 2 * n; i++) ref[i] = emu[i] = (double)(float)sin(0.37 * i + 0.1 * i * i);
            mv__cu_fftc_layout L;
            if (mv__cu_fftc_setup(&h, cases[c].axes, inv, &L) != MV_OK) { printf("setup: %s\n", mv_last_error()); fails++; continue; }
            for (int a = 0; a < 3; a++) if (cases[c].axes >> a & 1u) dft_axis(ref, cases[c].d, cases[c].d[3], a, inv ? 1 : -1, 1);
            mv__cu_mod m = L.m;
            int64_t idx[3];
            for (int pass = 0; pass < 2; pass++) {
                m.post = pass; m.scale = pass ? (float)(1.0 / sqrt((double)L.N)) : 1.0f;
                if (pass == 1) /* the transform cuFFT does: plain DFTs over the on-axes */
                    for (int a = 0; a < 3; a++) if (L.m.on[a]) dft_axis(emu, cases[c].d, cases[c].d[3], a, inv ? 1 : -1, 0);
                for (int64_t f = 0; f < m.frames; f++)
                    for (idx[2] = 0; idx[2] < m.n[2]; idx[2]++)
                        for (idx[1] = 0; idx[1] < m.n[1]; idx[1]++)
                            for (idx[0] = 0; idx[0] < m.n[0]; idx[0]++) {
                                int64_t i = ((f * m.n[2] + idx[2]) * m.n[1] + idx[1]) * m.n[0] + idx[0];
                                float2 w = mv__cu_mod_factor(m, idx);
                                double re = emu[2 * i], im = emu[2 * i + 1];
                                emu[2 * i] = re * w.x - im * w.y; emu[2 * i + 1] = re * w.y + im * w.x;
                            }
            }
            double err = 0, nrm = 0;
            for (int64_t i = 0; i < 2 * n; i++) { err += (emu[i] - ref[i]) * (emu[i] - ref[i]); nrm += ref[i] * ref[i]; }
            double rel = sqrt(err / nrm);
            checks++;
            if (!(rel < 1e-6)) { fails++; printf("FAIL fftc case %u inverse %d: relative RMS error %.3g\n", c, inv, rel); }
            free(ref); free(emu); mv_free(&h);
        }
}

/* ---- resampling ---- */

/* scipy.ndimage.zoom order 0 / 1, mode nearest or constant, in float64 from
   its definition (as tests/test_cuda.cu's reference) */
static double ref_zoom_voxel(const float *in, const int64_t n[3], const double c[3], int linear)
{
    int64_t i0[3];
    double t[3], acc = 0;
    for (int a = 0; a < 3; a++) {
        double cl = c[a] < 0 ? 0 : c[a] > (double)(n[a] - 1) ? (double)(n[a] - 1) : c[a];
        if (!linear) {
            i0[a] = (int64_t)floor(cl + 0.5);
            t[a] = 0;
            continue;
        }
        i0[a] = (int64_t)floor(cl);
        if (i0[a] >= n[a] - 1) i0[a] = n[a] > 1 ? n[a] - 2 : 0;
        t[a] = n[a] > 1 ? cl - (double)i0[a] : 0;
    }
    for (int dz = 0; dz < 2; dz++)
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
                double w = (dz ? t[2] : 1 - t[2]) * (dy ? t[1] : 1 - t[1]) * (dx ? t[0] : 1 - t[0]);
                if (w != 0) acc += w * in[((i0[2] + dz) * n[1] + (i0[1] + dy)) * n[0] + (i0[0] + dx)];
            }
    return acc;
}

static void check_resample(void)
{
    const int64_t ins[4][3] = {{37, 29, 13}, {16, 16, 16}, {5, 1, 7}, {9, 8, 7}};
    const int64_t outs[4][3] = {{74, 15, 13}, {23, 9, 31}, {3, 4, 10}, {4, 4, 14}};
    for (int s = 0; s < 4; s++)
        for (int linear = 0; linear < 2; linear++)
            for (int align = 0; align < 2; align++) {
                int64_t n = ins[s][0] * ins[s][1] * ins[s][2], bad = 0;
                float *in = (float *)malloc((size_t)n * sizeof(float));
                mv__cu_rsmap m;
                for (int64_t i = 0; i < n; i++) in[i] = (float)(1000 * sin(0.1 * (double)i) + (double)(i % 7) * 3.3);
                memset(&m, 0, sizeof(m));
                m.separable = 1; /* the map mv_cuda_resample_shape builds */
                for (int a = 0; a < 3; a++) {
                    int64_t nn = ins[s][a], mm = outs[s][a];
                    m.s[a] = !align ? (double)nn / (double)mm : mm > 1 ? (double)(nn - 1) / (double)(mm - 1) : 1.0;
                    m.u[a] = align ? 0.0 : 0.5;
                    m.v[a] = align ? 0.0 : -0.5;
                    m.n[a] = nn;
                    m.m[a] = mm;
                }
                m.linear = linear;
                for (int64_t z = 0; z < m.m[2]; z++)
                    for (int64_t y = 0; y < m.m[1]; y++)
                        for (int64_t x = 0; x < m.m[0]; x++) {
                            double c[3], r;
                            float v;
                            mv__cu_rs_coords(m, x, y, z, c);
                            v = mv__cu_rs_sample(in, m, c, 0, 1.0, 0.0);
                            r = ref_zoom_voxel(in, m.n, c, linear);
                            /* nearest: the same voxel; linear: float32 sums, 8 ulp of the data's 1030 */
                            if (linear ? fabs((double)v - r) > 8 * 1.2e-7 * 1030 : (double)v != r) bad++;
                        }
                checks++;
                if (bad) {
                    fails++;
                    printf("FAIL resample %lldx%lldx%lld -> %lldx%lldx%lld %s align %d: %lld voxels\n", (long long)ins[s][0],
                           (long long)ins[s][1], (long long)ins[s][2], (long long)outs[s][0], (long long)outs[s][1],
                           (long long)outs[s][2], linear ? "linear" : "nearest", align, (long long)bad);
                }
                free(in);
            }
}

/* Cubic: the device's whole pipeline on the host (mv__cu_cubic_run's steps:
   the guard's maximum, the x / y / z prefilter line items over every line
   in the kernels' order of passes, the samples) against the CPU's
   mv_resample_into on the same map: within 1e-5 of the data range (the
   CPU's tolerance against scipy), and bit for bit where the CPU takes its
   coefficient path with mv__rs_sample's order (reported, not required).
   Maps: zooms (the separable map of mv_cuda_resample_shape, grid mode and
   align corners), a general (rotated, sheared) map; edge (scipy 'nearest')
   and fill (mirror inside); one-voxel axes; int16 with a scaling; values
   near FLT_MAX (the overflow guard); NaN-free data. */
/* The device's coefficients of one frame on the host: the x line items
   with the guard's maximum, their scaled redo past 2^121, then the y and z
   line items over every line of each pass, in the passes' order */
struct host_bs {
    std::vector<float> C;
    unsigned int amax = 0;
    float pre = 1, post = 1;
    mv__cu_bsjob j;
    template <typename S>
    void make(const S *in, const int64_t n[3], int mirror, int scaled, double slope, double inter)
    {
        size_t cn = 1;
        for (int a = 0; a < 3; a++) {
            j.n[a] = n[a];
            j.k[a] = mv__cu_bs_consts(n[a]);
            cn *= (size_t)(n[a] + 2);
        }
        j.mirror = mirror;
        C.assign(cn, NAN); /* every stored coefficient must be written */
        j.C = C.data();
        j.amax = &amax;
        amax = 0;
        for (int64_t l = 0; l < n[1] * n[2]; l++) { /* the x kernel's first launch */
            const unsigned int b = mv__cu_bs_xline(in, j, l, scaled, slope, inter, 1.0f);
            amax = b > amax ? b : amax;
        }
        mv__cu_bs_scale(amax, &pre, &post);
        if (pre != 1.0f) /* its second: the scaled redo */
            for (int64_t l = 0; l < n[1] * n[2]; l++) mv__cu_bs_xline(in, j, l, scaled, slope, inter, pre);
        for (int64_t l = 0; l < (n[0] + 2) * n[2]; l++) mv__cu_bs_yline(j, l);
        for (int64_t l = 0; l < (n[0] + 2) * (n[1] + 2); l++) mv__cu_bs_zline(j, l);
    }
};

/* mv__cu_cubic_run's frame on the host: coefficients, then every output
   voxel as mv__cu_cubic_kernel computes it */
template <typename S>
static float *cubic_emulate(const S *in, const mv__cu_rsmap &m, int scaled, double slope, double inter, float fill)
{
    host_bs h;
    h.make(in, m.n, m.fill, scaled, slope, inter);
    float *out = (float *)malloc((size_t)m.out_frame * sizeof(float));
    for (int64_t z = 0; z < m.m[2]; z++)
        for (int64_t y = 0; y < m.m[1]; y++)
            for (int64_t x = 0; x < m.m[0]; x++) {
                double c[3];
                mv__cu_rs_coords(m, x, y, z, c);
                out[(z * m.m[1] + y) * m.m[0] + x] =
                    m.fill && !mv__cu_rs_inside(m, c) ? fill : mv__cu_bs_sample(h.j.C, h.j.n, c, h.j.mirror, h.post);
            }
    return out;
}

static void check_cubic_case(const char *what, const mv_vol *in, const mv__cu_rsmap &m, double M[4][4])
{
    mv_vol out;
    mv_resample_opts ro;
    int64_t dims[3] = {m.m[0], m.m[1], m.m[2]}, differ = 0, bad = 0;
    double lo = INFINITY, hi = -INFINITY, worst = 0;
    int active = in->meta.scl_slope != 0 && !(in->meta.scl_slope == 1.0 && in->meta.scl_inter == 0.0);
    double slope = active ? in->meta.scl_slope : 1.0, inter = active ? in->meta.scl_inter : 0.0;
    memset(&ro, 0, sizeof(ro));
    ro.interp = MV_INTERP_CUBIC;
    ro.fill_outside = m.fill;
    ro.fill = -7;
    ro.threads = 1;
    checks++;
    ro.align_corners = m.separable && m.u[0] == 0.0;
    /* a zoom through mv_resample_shape, whose coordinates are scipy's
       ((o + u) s + v, as the device's separable map), a general map through
       mv_resample_into (M rows, as the device's) */
    if (m.separable ? mv_resample_shape(in, &out, dims, &ro) != MV_OK
                    : mv_vol_alloc(&out, MV_DT_F32, 3, dims, NULL) != MV_OK || mv_resample_into(in, &out, M, &ro) != MV_OK) {
        fails++;
        printf("FAIL cubic %s: CPU resample: %s\n", what, mv_last_error());
        mv_free(&out);
        return;
    }
    float *g = in->dtype == MV_DT_F32 ? cubic_emulate((const float *)in->data, m, active, slope, inter, -7.0f)
                                      : cubic_emulate((const int16_t *)in->data, m, active, slope, inter, -7.0f);
    for (int64_t i = 0; i < m.in_frame; i++) {
        double v = in->dtype == MV_DT_F32 ? ((const float *)in->data)[i] : ((const int16_t *)in->data)[i] * slope + inter;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    for (int64_t i = 0; i < m.out_frame; i++) {
        float c = ((const float *)out.data)[i];
        double e = fabs((double)g[i] - (double)c);
        differ += memcmp(&g[i], &c, 4) != 0;
        worst = e > worst ? e : worst;
        bad += !(e <= 1e-5 * (hi - lo));
    }
    if (bad) {
        fails++;
        printf("FAIL cubic %s: %lld of %lld voxels beyond 1e-5 of the range (worst %.3g of %.3g)\n", what, (long long)bad,
               (long long)m.out_frame, worst, hi - lo);
    } else if (getenv("MV_VERBOSE")) {
        printf("  cubic %s: worst %.2e of the range, %lld of %lld voxels not bit-identical to the CPU\n", what,
               worst / (hi - lo), (long long)differ, (long long)m.out_frame);
    }
    free(g);
    mv_free(&out);
}

static void check_cubic(void)
{
    const int64_t ins[4][3] = {{23, 19, 11}, {16, 16, 16}, {9, 1, 7}, {5, 6, 2}};
    const int64_t outs[4][3] = {{12, 10, 6}, {37, 9, 21}, {4, 3, 15}, {9, 3, 5}};
    for (int s = 0; s < 4; s++)
        for (int kind = 0; kind < 6; kind++) { /* 0-3: zoom (align x fill), 4-5: general map (fill) */
            int align = kind < 4 && (kind & 1), fill = kind < 4 ? kind >> 1 : kind - 4;
            mv_vol in;
            mv__cu_rsmap m;
            double M[4][4] = {{0}};
            char what[160];
            if (mv_vol_alloc(&in, s == 1 ? MV_DT_I16 : MV_DT_F32, 3, ins[s], NULL) != MV_OK) exit(1);
            for (int64_t i = 0; i < mv_vol_count(&in); i++) {
                double v = 1000 * sin(0.1 * (double)i) + (double)(i % 7) * 3.3;
                if (s == 1) ((int16_t *)in.data)[i] = (int16_t)v;
                else ((float *)in.data)[i] = (float)(s == 3 ? v * 1e35 : v); /* s 3: past the guard's 2^121 */
            }
            if (s == 1) { /* a scaling: the float32 pipeline sees slope * v + inter */
                in.meta.scl_slope = 0.37;
                in.meta.scl_inter = -12.5;
            }
            memset(&m, 0, sizeof(m));
            M[3][3] = 1;
            for (int a = 0; a < 3; a++) {
                int64_t nn = ins[s][a], mm = outs[s][a];
                m.n[a] = nn;
                m.m[a] = mm;
            }
            if (kind < 4) { /* the map mv_cuda_resample_shape builds */
                m.separable = 1;
                for (int a = 0; a < 3; a++) {
                    int64_t nn = m.n[a], mm = m.m[a];
                    m.s[a] = !align ? (double)nn / (double)mm : mm > 1 ? (double)(nn - 1) / (double)(mm - 1) : 1.0;
                    m.u[a] = align ? 0.0 : 0.5;
                    m.v[a] = align ? 0.0 : -0.5;
                    M[a][a] = m.s[a];
                    M[a][3] = (0.0 + m.u[a]) * m.s[a] + m.v[a];
                }
            } else { /* rotated and sheared, reaching past every face */
                const double G[3][4] = {{0.8, 0.35, 0.0, -1.5}, {-0.3, 0.75, 0.1, 0.5}, {0.05, 0.0, 1.1, -0.7}};
                for (int r = 0; r < 3; r++)
                    for (int c = 0; c < 4; c++) M[r][c] = m.M[r][c] = G[r][c];
                if (m.n[1] == 1) M[1][0] = M[1][1] = M[1][2] = M[1][3] = m.M[1][0] = m.M[1][1] = m.M[1][2] = m.M[1][3] = 0;
            }
            m.in_frame = m.n[0] * m.n[1] * m.n[2];
            m.out_frame = m.m[0] * m.m[1] * m.m[2];
            m.frames = 1;
            m.fill = fill;
            snprintf(what, sizeof(what), "%lldx%lldx%lld -> %lldx%lldx%lld %s%s fill %d%s%s", (long long)m.n[0],
                     (long long)m.n[1], (long long)m.n[2], (long long)m.m[0], (long long)m.m[1], (long long)m.m[2],
                     kind < 4 ? "zoom" : "general map", align ? " align" : "", fill, s == 1 ? " int16 scaled" : "",
                     s == 3 ? " near FLT_MAX" : "");
            check_cubic_case(what, &in, m, M);
            mv_free(&in);
        }
    /* the line recursion against its definition: c solves the B-spline
       interpolation, sum (c[i-1] + 4 c[i] + c[i+1]) / 6 = g[i], on both
       boundaries (edge: the extension continues the ends; mirror: c[-1] =
       c[1]), lines of 2 .. 40 (the mirror series' horizon at 25) */
    for (int mirror = 0; mirror < 2; mirror++)
        for (int64_t n = 2; n <= 40; n++) {
            std::vector<float> c((size_t)n + 2), g((size_t)n);
            double worst = 0;
            for (int64_t i = 0; i < n; i++) g[(size_t)i] = c[(size_t)i + 1] = (float)(cos(0.7 * (double)i) * 5 + (double)i);
            mv__cu_bs_line(c.data() + 1, 1, n, mirror, mv__cu_bs_consts(n));
            for (int64_t i = 0; i < n; i++) {
                double r = ((double)c[(size_t)i] + 4.0 * c[(size_t)i + 1] + c[(size_t)i + 2]) / 6.0;
                worst = fmax(worst, fabs(r - g[(size_t)i]));
            }
            checks++;
            if (!(worst <= 2e-5 * (double)n)) {
                fails++;
                printf("FAIL cubic prefilter line n %lld mirror %d: interpolation residual %.3g\n", (long long)n, mirror,
                       worst);
            }
        }
}

/* ---- conversion ---- */

/* every pair of GPU dtypes through mv__cu_convert1 (the element function of
   the conversion kernel) against mv_convert_buffer, bit for bit (NaN equals
   NaN). On the host __double2half / __double2bfloat16 are CUDA's software
   versions; the device uses the hardware conversion, which test_cuda.cu
   covers. */
static const mv_dtype host_real[] = {MV_DT_U8,  MV_DT_I8,  MV_DT_U16, MV_DT_I16,  MV_DT_U32, MV_DT_I32,
                                     MV_DT_U64, MV_DT_I64, MV_DT_F16, MV_DT_BF16, MV_DT_F32, MV_DT_F64};

template <typename S, typename D>
static void convert_host(const void *src, void *dst, size_t n, int scaled, double slope, double inter, int trunc)
{
    for (size_t i = 0; i < n; i++)
        ((D *)dst)[i] = mv__cu_convert1<S, D>(((const S *)src)[i], scaled, slope, inter, trunc);
}

static void check_convert(void)
{
    static const double special[] = {0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, 128.0, 255.5, 256.0,
                                     -128.5, 32767.5, 65535.5, -32768.5, 2147483647.5, 4294967296.0,
                                     9.2233720368547758e18, 1.8446744073709552e19, -9.3e18, 1e30, -1e30,
                                     65504.0, 65520.0, 3.4e38, 1e-8, 5.9604644775390625e-08, NAN, INFINITY, -INFINITY};
    const size_t n = 2000, ns = sizeof(special) / sizeof(special[0]);
    double *vals = (double *)malloc(n * sizeof(double));
    unsigned char *src = (unsigned char *)malloc(n * 8), *cpu = (unsigned char *)malloc(n * 8),
                  *gpu = (unsigned char *)malloc(n * 8);
    uint64_t r = 12345;
    for (int si = 0; si < 12; si++) {
        mv_dtype sdt = host_real[si];
        double span = sdt == MV_DT_F16 ? 6e4 : sdt == MV_DT_BF16 ? 1e6 : 4e9;
        for (size_t i = 0; i < n; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            vals[i] = i < ns ? special[i] : ((double)(r >> 11) / 9007199254740992.0 * 2 - 1) * span;
            if (mv_dtype_is_integer(sdt) && vals[i] != vals[i]) vals[i] = 0;
        }
        mv_convert_buffer(vals, MV_DT_F64, src, sdt, n, NULL);
        for (int di = 0; di < 12; di++)
            for (int scaled = 0; scaled < 2; scaled++)
                for (int trunc = 0; trunc < 2; trunc++) {
                    mv_dtype ddt = host_real[di];
                    mv_convert_opts o;
                    size_t es = mv_dtype_size(ddt), bad = 0, first = 0;
                    memset(&o, 0, sizeof(o));
                    o.scaled = scaled;
                    o.slope = 0.37;
                    o.inter = -11.5;
                    o.rounding = trunc ? MV_ROUND_TRUNCATE : MV_ROUND_NEAREST;
                    mv_convert_buffer(src, sdt, cpu, ddt, n, &o);
                    if (!scaled && sdt == ddt) memcpy(gpu, src, n * es); /* the GPU copies, as the CPU */
                    else MV__CU_CASE_REAL(sdt, S, MV__CU_CASE_REAL(ddt, D, convert_host<S, D>(src, gpu, n, scaled, 0.37, -11.5, trunc)))
                    for (size_t i = 0; i < n; i++) {
                        double a, b;
                        if (memcmp(gpu + i * es, cpu + i * es, es) == 0) continue;
                        mv_convert_buffer(gpu + i * es, ddt, &a, MV_DT_F64, 1, NULL);
                        mv_convert_buffer(cpu + i * es, ddt, &b, MV_DT_F64, 1, NULL);
                        if (a != a && b != b) continue;
                        if (bad++ == 0) first = i;
                    }
                    checks++;
                    if (bad) {
                        double a, b;
                        mv_convert_buffer(gpu + first * es, ddt, &a, MV_DT_F64, 1, NULL);
                        mv_convert_buffer(cpu + first * es, ddt, &b, MV_DT_F64, 1, NULL);
                        fails++;
                        printf("FAIL convert %s -> %s scaled %d trunc %d: %zu differ, first %zu (source %.17g): %.17g vs cpu %.17g\n",
                               mv_dtype_name(sdt), mv_dtype_name(ddt), scaled, trunc, bad, first, vals[first], a, b);
                    }
                }
    }
    free(vals);
    free(src);
    free(cpu);
    free(gpu);
}

/* ---- statistics ---- */

/* The reduction as the kernels run it, on the host: thread t of T takes
   elements t, t + T, ... (mv__cu_accum), blocks of 256 combine their
   threads in a tree (mv__cu_block_reduce's order), the partials are merged
   256-strided and tree-combined (mv__cu_stats_final's order): against
   mv_compute_stats. (The kernels read 16-byte packs, four at a time, so
   a thread's order of elements differs from this one: the sums' rounding,
   within the tolerances, not the counts or extremes.) */
static mv__cu_moments host_tree(mv__cu_moments *sh)
{
    for (int w = MV__CU_RED_THREADS / 2; w > 0; w >>= 1)
        for (int t = 0; t < w; t++) mv__cu_moments_merge(sh[t], sh[t + w]);
    return sh[0];
}

static void check_stats(void)
{
    const int64_t sizes[3] = {1, 4099, 61 * 47 * 23};
    const int blocks_list[3] = {1, 7, 40};
    static mv__cu_moments sh[MV__CU_RED_THREADS], part[64];
    for (int si = 0; si < 3; si++)
        for (int bi = 0; bi < 3; bi++) {
            int64_t n = sizes[si], dims[1] = {sizes[si]};
            int blocks = blocks_list[bi], nth = blocks * MV__CU_RED_THREADS;
            mv_vol h;
            mv_stats c;
            mv_vol_alloc(&h, MV_DT_F32, 1, dims, NULL);
            for (int64_t i = 0; i < n; i++) ((float *)h.data)[i] = (float)(500 + 300 * sin(0.01 * (double)i) + (i % 11));
            if (n > 100) {
                ((float *)h.data)[17] = NAN;
                ((float *)h.data)[40] = INFINITY;
                ((float *)h.data)[41] = 3.0e38f;
            }
            mv_compute_stats(&h, &c, NULL);
            int fast_differs = 0;
            for (int b = 0; b < blocks; b++) {
                for (int t = 0; t < MV__CU_RED_THREADS; t++) {
                    /* add: the float64 reference; add_f32: the fast path of
                       float32 values, which must give the same moments */
                    mv__cu_accum acc, acc32;
                    acc.zero();
                    acc32.zero();
                    for (int64_t i = (int64_t)b * MV__CU_RED_THREADS + t; i < n; i += nth) {
                        acc.add(((float *)h.data)[i]);
                        acc32.add_f32(((float *)h.data)[i]);
                    }
                    sh[t] = acc.moments();
                    mv__cu_moments f = acc32.moments();
                    if (f.n != sh[t].n || f.nan != sh[t].nan || f.inf != sh[t].inf || f.sum != sh[t].sum ||
                        f.mn != sh[t].mn || f.mx != sh[t].mx || f.mean != sh[t].mean || f.m2 != sh[t].m2)
                        fast_differs++;
                }
                part[b] = host_tree(sh);
            }
            checks++;
            if (fast_differs) {
                fails++;
                printf("FAIL stats n %lld blocks %d: add_f32 differs from add in %d threads\n", (long long)n, blocks,
                       fast_differs);
            }
            for (int t = 0; t < MV__CU_RED_THREADS; t++) {
                mv__cu_moments_zero(sh[t]);
                for (int i = t; i < blocks; i += MV__CU_RED_THREADS) mv__cu_moments_merge(sh[t], part[i]);
            }
            mv__cu_moments m = host_tree(sh);
            double mean = m.n ? m.mean : 0, sd = m.n ? sqrt(m.m2 / (double)m.n) : 0;
            checks++;
            if (m.n != c.count || m.nan != c.nan_count || m.inf != c.inf_count || (m.n && (m.mn != c.min || m.mx != c.max)) ||
                !(fabs(m.sum - c.sum) <= 1e-12 * fabs(c.sum)) || !(fabs(mean - c.mean) <= 1e-12 * fabs(c.mean) + 1e-12 * c.std) ||
                !(fabs(sd - c.std) <= 1e-9 * c.std)) {
                fails++;
                printf("FAIL stats n %lld blocks %d: count %lld/%lld nan %lld/%lld inf %lld/%lld sum %.17g/%.17g mean %.17g/%.17g "
                       "std %.17g/%.17g\n", (long long)n, blocks, m.n, (long long)c.count, m.nan, (long long)c.nan_count,
                       m.inf, (long long)c.inf_count, m.sum, c.sum, mean, c.mean, sd, c.std);
            }
            mv_free(&h);
        }
}

/* ---- Gaussian ---- */

/* The device's algorithm run on the host: values converted as the kernel's
   first step does, then one mv__cu_fl_fir_at pass per active axis (x, y, z)
   over every voxel, weights from mv_gaussian_kernel (mv__cu_fl_setup);
   against the CPU's mv_gaussian with method FIR, bit for bit. */
static void gauss_case(mv_dtype dt, int ndim, const int64_t *dims, const double sigma[3], mv_boundary mode, double truncate,
                       int in_mm, const char *what)
{
    mv_vol in, cpu;
    mv_filter_opts o;
    mv__cu_fl_plan p;
    float *wbuf = (float *)malloc(sizeof(float) * 3 * (MV__CU_FL_MAXR + 1)), *a, *b;
    int64_t n[3], count, frames, bad = 0, first = -1;
    int active = 0;
    double slope = 1, inter = 0;
    memset(&o, 0, sizeof(o));
    o.mode = mode;
    o.cval = 2.5;
    o.truncate = truncate;
    o.sigma_in_mm = in_mm;
    o.method = MV_FILTER_FIR;
    if (mv_vol_alloc(&in, dt, ndim, dims, NULL) != MV_OK) exit(1);
    count = mv_vol_count(&in);
    for (int64_t i = 0; i < count; i++) {
        double v = 40 * sin(0.37 * (double)i) + (double)((i * 7919) % 23);
        if (dt == MV_DT_F32) ((float *)in.data)[i] = (float)(v * 1.37);
        else ((int16_t *)in.data)[i] = (int16_t)v;
    }
    if (dt == MV_DT_I16) {
        in.meta.scl_slope = 0.37;
        in.meta.scl_inter = -3;
    }
    in.spacing[0] = 0.8;
    in.spacing[1] = 1.3;
    in.spacing[2] = 2.0;
    checks++;
    if (mv_gaussian(&in, &cpu, sigma, &o) != MV_OK || mv__cu_fl_setup(&in, sigma, NULL, &o, wbuf, &p, "host") != MV_OK ||
        mv__cu_scaling(&in, 0, 1, &active, &slope, &inter) != MV_OK) {
        fails++;
        printf("FAIL gaussian %s: %s\n", what, mv_last_error());
        mv_free(&in);
        free(wbuf);
        return;
    }
    for (int k = 0; k < 3; k++) n[k] = k < ndim ? dims[k] : 1;
    frames = count / (n[0] * n[1] * n[2]);
    a = (float *)malloc((size_t)count * sizeof(float));
    b = (float *)malloc((size_t)count * sizeof(float));
    for (int64_t i = 0; i < count; i++)
        a[i] = dt == MV_DT_F32 ? mv__cu_value_f32(((float *)in.data)[i], active, slope, inter)
                               : mv__cu_value_f32(((int16_t *)in.data)[i], active, slope, inter);
    for (int ax = 0; ax < 3; ax++) {
        if (!p.active[ax]) continue;
        int64_t stride = ax == 0 ? 1 : ax == 1 ? n[0] : n[0] * n[1];
        for (int64_t f = 0; f < frames; f++)
            for (int64_t z = 0; z < n[2]; z++)
                for (int64_t y = 0; y < n[1]; y++)
                    for (int64_t x = 0; x < n[0]; x++) {
                        int64_t base = ((f * n[2] + z) * n[1] + y) * n[0], i = ax == 0 ? x : ax == 1 ? y : z;
                        b[base + x] = mv__cu_fl_fir_at(a + base + x - i * stride, stride, i, n[ax], p.w[ax], p.r[ax],
                                                       p.anti[ax], (int)o.mode, (float)o.cval);
                    }
        float *t = a;
        a = b;
        b = t;
    }
    for (int64_t i = 0; i < count; i++)
        if (memcmp(&a[i], (float *)cpu.data + i, 4) != 0 && bad++ == 0) first = i;
    if (bad) {
        fails++;
        printf("FAIL gaussian %s: %lld of %lld voxels differ from mv_gaussian (first %lld: %.9g vs %.9g)\n", what,
               (long long)bad, (long long)count, (long long)first, (double)a[first], (double)((float *)cpu.data)[first]);
    }
    free(a);
    free(b);
    free(wbuf);
    mv_free(&cpu);
    mv_free(&in);
}

static void check_gaussian(void)
{
    const int64_t d3[3] = {23, 17, 9}, d4[4] = {11, 6, 5, 3}, d2[3] = {31, 12, 1}, tiny[3] = {3, 2, 5};
    const double s1[3] = {1.5, 1.5, 1.5}, s2[3] = {0.7, 2.2, 0}, s3[3] = {3.0, 1.0, 2.5}, s_mm[3] = {1.2, 2.6, 4.0};
    char what[128];
    for (int mode = MV_BOUNDARY_REFLECT; mode <= MV_BOUNDARY_WRAP; mode++) {
        snprintf(what, sizeof(what), "float32 23x17x9 sigma 1.5 mode %d", mode);
        gauss_case(MV_DT_F32, 3, d3, s1, (mv_boundary)mode, 0, 0, what);
        snprintf(what, sizeof(what), "int16 scaled 23x17x9 sigma (0.7, 2.2, 0) mode %d", mode);
        gauss_case(MV_DT_I16, 3, d3, s2, (mv_boundary)mode, 0, 0, what);
        /* kernels longer than the axes: the extension's periodic rules */
        snprintf(what, sizeof(what), "float32 3x2x5 sigma (3, 1, 2.5) mode %d", mode);
        gauss_case(MV_DT_F32, 3, tiny, s3, (mv_boundary)mode, 0, 0, what);
        snprintf(what, sizeof(what), "float32 4D 11x6x5x3 mode %d truncate 2.5", mode);
        gauss_case(MV_DT_F32, 4, d4, s1, (mv_boundary)mode, 2.5, 0, what);
        snprintf(what, sizeof(what), "float32 2D 31x12 sigma in mm mode %d", mode);
        gauss_case(MV_DT_F32, 3, d2, s_mm, (mv_boundary)mode, 0, 1, what);
    }
}

/* ---- displacement fields ---- */

/* a field (X,Y,Z,1,nc) with smooth displacements of a few mm and an oblique affine */
static void make_field(mv_vol *f, int64_t X, int64_t Y, int64_t Z, int nc, double amp, double rot)
{
    mv_vol grid;
    int64_t d3[3] = {X, Y, Z};
    if (mv_vol_alloc(&grid, MV_DT_F32, 3, d3, NULL) != MV_OK) exit(1);
    memset(grid.affine, 0, sizeof(grid.affine));
    grid.affine[0][0] = 1.3 * cos(rot);
    grid.affine[0][1] = -1.1 * sin(rot);
    grid.affine[1][0] = 1.3 * sin(rot);
    grid.affine[1][1] = 1.1 * cos(rot);
    grid.affine[2][2] = 1.7;
    grid.affine[0][3] = -4.5;
    grid.affine[1][3] = 3.25;
    grid.affine[2][3] = -2;
    grid.affine[3][3] = 1;
    if (mv_field_alloc(f, &grid, nc, NULL) != MV_OK) exit(1);
    int64_t nv = X * Y * Z;
    float *d = (float *)f->data;
    for (int64_t v = 0; v < nv; v++)
        for (int c = 0; c < nc; c++)
            d[c * nv + v] = (float)(amp * sin(0.21 * (double)(v % X) + 0.7 * c) * cos(0.17 * (double)((v / X) % Y) - 0.3 * c) +
                                    0.4 * c);
    mv_free(&grid);
}

static void warp_case(mv_dtype dt, int nc, int interp, int fill, const char *what)
{
    const int64_t md[3] = {14, 12, nc == 2 ? 1 : 9};
    mv_vol mov, fld, cpu;
    mv_field_opts o;
    mv__cu_fdmap w;
    mv__cu_rsmap m;
    double M[4][4] = {{0.98, -0.17, 0.02, 1.5}, {0.17, 0.98, 0, -2.25}, {0, 0, 1, 0.5}, {0, 0, 0, 1}};
    int active = 0;
    double slope = 1, inter = 0;
    int64_t bad = 0, first = -1, n;
    checks++;
    if (mv_vol_alloc(&mov, dt, 3, md, NULL) != MV_OK) exit(1);
    n = mv_vol_count(&mov);
    for (int64_t i = 0; i < n; i++) {
        double v = 50 * sin(0.31 * (double)i) + (double)((i * 7919) % 41);
        if (dt == MV_DT_F32) ((float *)mov.data)[i] = (float)v;
        else ((int16_t *)mov.data)[i] = (int16_t)v;
    }
    if (dt == MV_DT_I16) {
        mov.meta.scl_slope = 0.5;
        mov.meta.scl_inter = 3;
    }
    memset(mov.affine, 0, sizeof(mov.affine));
    mov.affine[0][0] = 1.2;
    mov.affine[1][1] = 1.25;
    mov.affine[2][2] = 1.9;
    mov.affine[0][3] = -7;
    mov.affine[1][3] = -6;
    mov.affine[2][3] = nc == 2 ? 0 : -8;
    mov.affine[3][3] = 1;
    make_field(&fld, 11, 13, nc == 2 ? 1 : 7, nc, 2.5, nc == 2 ? 0.2 : 0.35);
    if (nc == 2) {
        memset(M[2], 0, sizeof(M[2]));
        M[2][2] = 1;
        M[0][2] = M[1][2] = 0;
    }
    memset(&o, 0, sizeof(o));
    o.interp = interp == 2 ? MV_INTERP_CUBIC : interp ? MV_INTERP_LINEAR : MV_INTERP_NEAREST;
    o.fill_outside = fill;
    o.fill = -3.5;
    int64_t od[3] = {fld.dim[0], fld.dim[1], fld.dim[2]};
    mv_dtype odt = interp ? MV_DT_F32 : dt;
    if (mv_vol_alloc(&cpu, odt, 3, od, NULL) != MV_OK) exit(1);
    if (mv_field_warp_into(&mov, &fld, (const double(*)[4])M, &cpu, &o) != MV_OK ||
        mv__cu_fd_warp_map(&mov, &fld, (const double(*)[4])M, &w, "host") != MV_OK ||
        mv__cu_scaling(&mov, 0, 1, &active, &slope, &inter) != MV_OK) {
        fails++;
        printf("FAIL field warp %s: %s\n", what, mv_last_error());
        return;
    }
    memset(&m, 0, sizeof(m));
    for (int a = 0; a < 3; a++) m.n[a] = md[a];
    m.linear = interp;
    m.fill = fill;
    unsigned char fillb[16];
    mv__cu_rs_fill_bytes(o.fill, odt, o.rounding, fillb);
    host_bs bs; /* cubic: the moving image's coefficients, as mv__cu_fd_cubic_run makes them */
    if (interp == 2 && dt == MV_DT_F32) bs.make((const float *)mov.data, m.n, fill, active, slope, inter);
    if (interp == 2 && dt == MV_DT_I16) bs.make((const int16_t *)mov.data, m.n, fill, active, slope, inter);
    for (int64_t z = 0; z < w.g[2]; z++)
        for (int64_t y = 0; y < w.g[1]; y++)
            for (int64_t x = 0; x < w.g[0]; x++) {
                double d[3], c[3];
                int64_t v = (z * w.g[1] + y) * w.g[0] + x;
                unsigned char got[16];
                mv__cu_fd_coords(w, (const float *)fld.data, x, y, z, d, c);
                bool outside = fill && !mv__cu_fd_inside(m.n, c);
                if (interp == 2) {
                    float f = outside ? (float)o.fill : mv__cu_bs_sample(bs.j.C, bs.j.n, c, bs.j.mirror, bs.post);
                    memcpy(got, &f, 4);
                } else if (interp) {
                    float f = outside ? (float)o.fill
                                      : dt == MV_DT_F32 ? mv__cu_rs_sample((const float *)mov.data, m, c, active, slope, inter)
                                                        : mv__cu_rs_sample((const int16_t *)mov.data, m, c, active, slope, inter);
                    memcpy(got, &f, 4);
                } else if (outside) {
                    memcpy(got, fillb, mv_dtype_size(dt));
                } else {
                    float wt[2];
                    int64_t q[3];
                    for (int a = 0; a < 3; a++) q[a] = mv__cu_rs_taps(c[a], m.n[a], 0, wt);
                    memcpy(got, (const unsigned char *)mov.data + ((q[2] * m.n[1] + q[1]) * m.n[0] + q[0]) * mv_dtype_size(dt),
                           mv_dtype_size(dt));
                }
                if (memcmp(got, (const unsigned char *)cpu.data + v * mv_dtype_size(odt), mv_dtype_size(odt)) != 0 &&
                    bad++ == 0)
                    first = v;
            }
    if (bad) {
        fails++;
        printf("FAIL field warp %s: %lld of %lld voxels differ from mv_field_warp_into (first %lld)\n", what, (long long)bad,
               (long long)w.nv, (long long)first);
    }
    mv_free(&mov);
    mv_free(&fld);
    mv_free(&cpu);
}

static void compose_case(int nc, const char *what)
{
    mv_vol d1, d2, cpu, got;
    mv__cu_fdmap w;
    int64_t bad = 0;
    checks++;
    make_field(&d1, 12, 10, nc == 2 ? 1 : 8, nc, 3.0, 0.1);
    make_field(&d2, 9, 11, nc == 2 ? 1 : 6, nc, 2.0, -0.25);
    if (mv_vol_copy(&d2, &cpu) != MV_OK || mv_vol_copy(&d2, &got) != MV_OK) exit(1);
    if (mv_field_compose_into(&d1, &d2, &cpu, NULL) != MV_OK || mv__cu_fd_compose_map(&d1, &d2, &w, "host") != MV_OK) {
        fails++;
        printf("FAIL field compose %s: %s\n", what, mv_last_error());
        return;
    }
    const int64_t n1[3] = {d1.dim[0], d1.dim[1], d1.dim[2]};
    for (int64_t z = 0; z < w.g[2]; z++)
        for (int64_t y = 0; y < w.g[1]; y++)
            for (int64_t x = 0; x < w.g[0]; x++)
                mv__cu_fd_compose_at(w, (const float *)d1.data, n1, n1[0] * n1[1] * n1[2], (const float *)d2.data,
                                     (float *)got.data, x, y, z);
    for (int64_t i = 0; i < mv_vol_count(&cpu); i++) bad += memcmp((float *)cpu.data + i, (float *)got.data + i, 4) != 0;
    if (bad) {
        fails++;
        printf("FAIL field compose %s: %lld of %lld values differ from mv_field_compose_into\n", what, (long long)bad,
               (long long)mv_vol_count(&cpu));
    }
    mv_free(&d1);
    mv_free(&d2);
    mv_free(&cpu);
    mv_free(&got);
}

static void check_field(void)
{
    static const struct { mv_dtype dt; int nc, interp; const char *name; } cases[] = {
        {MV_DT_F32, 3, 1, "float32 3D linear"}, {MV_DT_I16, 3, 1, "int16 scaled 3D linear"},
        {MV_DT_I16, 3, 0, "int16 3D nearest"},  {MV_DT_F32, 2, 1, "float32 2D linear"},
        {MV_DT_F32, 3, 2, "float32 3D cubic"},  {MV_DT_I16, 3, 2, "int16 scaled 3D cubic"},
        {MV_DT_F32, 2, 2, "float32 2D cubic"},
    };
    for (int fill = 0; fill < 2; fill++)
        for (const auto &c : cases) {
            char what[96];
            snprintf(what, sizeof(what), "%s fill %d", c.name, fill);
            warp_case(c.dt, c.nc, c.interp, fill, what);
        }
    compose_case(3, "3D, d1 on another oblique grid");
    compose_case(2, "2D");
}

/* Jacobian determinants and folds: mv__cu_jac_setup + mv__cu_jdet over
   every voxel (rounded to float32 as the kernel stores it) against
   mv_field_jacobian_into, bit for bit; the folds through the kernel's
   per-thread / block-tree / host merge (mv__cu_folds_add / _merge, a
   block partition of 7 threads) against mv_field_folds, exactly. Fields:
   3D on an oblique grid, 2D, one folding hard, one with a NaN, one-voxel
   axes. */
static void jac_case(mv_vol *f, const char *what)
{
    mv_vol cpu;
    mv__cu_jac j;
    int64_t dims[3] = {f->dim[0], f->dim[1], f->dim[2]}, bad = 0, cnt = 0;
    double mn = 0;
    checks++;
    if (mv_vol_alloc(&cpu, MV_DT_F32, 3, dims, NULL) != MV_OK || mv_field_jacobian_into(f, &cpu, NULL) != MV_OK ||
        mv_field_folds(f, &cnt, &mn, NULL) != MV_OK || mv__cu_jac_setup(f, &j, "host") != MV_OK) {
        fails++;
        printf("FAIL jacobian %s: %s\n", what, mv_last_error());
        mv_free(&cpu);
        return;
    }
    const int T = 7; /* threads of the emulated grid-stride loop, one block */
    mv__cu_folds th[7], total = {0, HUGE_VAL, 0};
    for (int t = 0; t < T; t++) th[t] = {0, HUGE_VAL, 0};
    for (int64_t v = 0; v < j.nv; v++) {
        const int64_t x = v % j.n[0], y = v / j.n[0] % j.n[1], z = v / (j.n[0] * j.n[1]);
        const double det = mv__cu_jdet((const float *)f->data, j, x, y, z);
        const float g = (float)det;
        bad += memcmp(&g, (const float *)cpu.data + v, 4) != 0;
        mv__cu_folds_add(th[v % T], det);
    }
    for (int t = 0; t < T; t++) mv__cu_folds_merge(total, th[t]);
    const double gmin = total.nan ? (double)NAN : total.min;
    const bool same_min = (gmin != gmin && mn != mn) || gmin == mn;
    if (bad || total.count != cnt || !same_min) {
        fails++;
        printf("FAIL jacobian %s: %lld of %lld determinants differ; folds %lld (cpu %lld), min %.17g (cpu %.17g)\n", what,
               (long long)bad, (long long)j.nv, total.count, (long long)cnt, gmin, mn);
    } else if (getenv("MV_VERBOSE")) {
        printf("  jacobian %s: %lld voxels, %lld folded, min det %.6g: the CPU's bits\n", what, (long long)j.nv,
               (long long)cnt, mn);
    }
    mv_free(&cpu);
}

static void check_jacobian(void)
{
    mv_vol f;
    make_field(&f, 17, 13, 9, 3, 1.5, 0.35);
    jac_case(&f, "3D oblique");
    mv_free(&f);
    make_field(&f, 17, 13, 9, 3, 9.0, 0.35); /* large displacements: folds */
    jac_case(&f, "3D folding");
    ((float *)f.data)[5 * 17 + 3] = NAN;
    jac_case(&f, "3D with a NaN");
    mv_free(&f);
    make_field(&f, 19, 11, 1, 2, 2.5, 0.2);
    jac_case(&f, "2D");
    mv_free(&f);
    make_field(&f, 1, 13, 9, 3, 2.0, 0.0);
    jac_case(&f, "3D one voxel in x");
    mv_free(&f);
}

/* Field inversion: the device's steps on the host (mv__cu_inv_at over every
   voxel, the rows' sums and maxima, the fixed blocks, the total; the same
   stopping test and buffer exchange as mv_cuda_field_invert_into) against
   mv_field_invert_into: the field, the iteration count and both residuals
   bit for bit. Converging 3D and 2D fields, a stop by max_iter, a given
   tol, and a NaN (which stops at once). */
static void inv_case(const mv_vol *d, const mv_field_opts *o, const char *what)
{
    mv_vol cpu;
    mv_field_info ci;
    mv__cu_jac g;
    checks++;
    if (mv_vol_copy(d, &cpu) != MV_OK || mv_field_invert_into(d, &cpu, o, &ci) != MV_OK ||
        mv__cu_jac_setup(d, &g, "host") != MV_OK) {
        fails++;
        printf("FAIL invert %s: %s\n", what, mv_last_error());
        mv_free(&cpu);
        return;
    }
    const int64_t rows = g.n[1] * g.n[2], blocks = rows < MV__CU_FD_BLOCKS ? rows : MV__CU_FD_BLOCKS;
    const int max_iter = o->max_iter > 0 ? o->max_iter : 50;
    const double tol = o->tol > 0 ? o->tol : mv__cu_inv_tol(d);
    std::vector<float> b0((size_t)(g.nv * g.nc), 0.0f), b1(b0.size());
    std::vector<double> res((size_t)g.nv), rs((size_t)rows), rm((size_t)rows), bs((size_t)blocks), bm((size_t)blocks);
    float *buf[2] = {b0.data(), b1.data()};
    double r2[2];
    int cur = 0, k;
    for (k = 0;; k++) {
        for (int64_t z = 0; z < g.n[2]; z++)
            for (int64_t y = 0; y < g.n[1]; y++)
                for (int64_t x = 0; x < g.n[0]; x++)
                    res[(size_t)((z * g.n[1] + y) * g.n[0] + x)] = mv__cu_inv_at((const float *)d->data, buf[cur], buf[1 - cur], g, x, y, z);
        for (int64_t r = 0; r < rows; r++) mv__cu_inv_row(res.data(), g.n[0], r, rs.data(), rm.data());
        for (int64_t b = 0; b < blocks; b++) mv__cu_inv_block(rs.data(), rm.data(), rows, blocks, b, &bs[(size_t)b], &bm[(size_t)b]);
        mv__cu_inv_total(bs.data(), bm.data(), blocks, g.nv, r2);
        if (r2[0] <= tol || k >= max_iter || r2[0] != r2[0]) break;
        cur = 1 - cur;
    }
    const bool same_res = (r2[0] == ci.max_residual || (r2[0] != r2[0] && ci.max_residual != ci.max_residual)) &&
                          (r2[1] == ci.mean_residual || (r2[1] != r2[1] && ci.mean_residual != ci.mean_residual));
    int64_t bad = 0;
    for (size_t i = 0; i < b0.size(); i++) bad += memcmp(&buf[cur][i], (const float *)cpu.data + i, 4) != 0;
    if (bad || k != ci.iterations || !same_res) {
        fails++;
        printf("FAIL invert %s: %lld values differ; %d iterations (cpu %d), residual %.17g / %.17g (cpu %.17g / %.17g)\n",
               what, (long long)bad, k, ci.iterations, r2[0], r2[1], ci.max_residual, ci.mean_residual);
    } else if (getenv("MV_VERBOSE")) {
        printf("  invert %s: %d iterations, residual max %.3g mean %.3g: the CPU's bits\n", what, k, r2[0], r2[1]);
    }
    mv_free(&cpu);
}

static void check_invert(void)
{
    mv_vol f;
    mv_field_opts o;
    memset(&o, 0, sizeof(o));
    make_field(&f, 17, 13, 9, 3, 0.8, 0.35);
    inv_case(&f, &o, "3D oblique, default tol");
    o.max_iter = 3;
    inv_case(&f, &o, "3D, stopped by max_iter 3");
    o.max_iter = 0;
    o.tol = 1e-2;
    inv_case(&f, &o, "3D, tol 1e-2 mm");
    o.tol = 0;
    ((float *)f.data)[40] = NAN;
    inv_case(&f, &o, "3D with a NaN");
    mv_free(&f);
    make_field(&f, 19, 11, 1, 2, 1.0, 0.2);
    inv_case(&f, &o, "2D");
    mv_free(&f);
}

/* ---- proton transport ---- */

/* The device's launcher run on the host: each "kernel" walks every item
   (bin j, cell c; or bin, angle; or cell) of its grid in plain loops and
   calls the very item and element functions the kernel calls. The fused
   kernels' shared column is a host array with stride 1. */
struct host_tr {
    std::vector<float> col, mid;
    /* the one-kernel Lie step: its two halves through a host buffer */
    mv_status lie_step(const mv__cu_tr_args &A, const float *in, float *out, int rs)
    {
        mid.assign((size_t)(A.ne * A.plane), 0.0f);
        MV__CU_STRY(eloss_scatter(A, 0, in, mid.data(), rs));
        return stream(A, 0, mid.data(), out);
    }
    mv_status eloss(const mv__cu_tr_args &A, int h, const float *in, float *out, int rs)
    {
        for (int64_t j = 0; j < A.ne; j++)
            for (int64_t c = 0; c < A.row; c++) mv__cu_tr_eloss_item(A, h, in, out + j * A.plane + c, A.row, rs ? A.rs : NULL, j, c);
        return MV_OK;
    }
    mv_status scatter(const mv__cu_tr_args &A, int h, const float *in, float *out)
    {
        for (int64_t j = 0; j < A.ne; j++)
            for (int64_t c = 0; c < A.row; c++)
                mv__cu_tr_scatter_item(A, h, in + j * A.plane + c, A.row, out + j * A.plane + c, A.row, j);
        return MV_OK;
    }
    mv_status stream(const mv__cu_tr_args &A, int h, const float *in, float *out)
    {
        for (int64_t j = 0; j < A.ne; j++)
            for (int64_t c = 0; c < A.row; c++) mv__cu_tr_stream_item(A, h, in, out + j * A.plane + c, A.row, j, c);
        return MV_OK;
    }
    mv_status eloss_scatter(const mv__cu_tr_args &A, int h, const float *in, float *out, int rs)
    {
        col.assign((size_t)A.nth, 0.0f);
        for (int64_t j = 0; j < A.ne; j++)
            for (int64_t c = 0; c < A.row; c++) {
                mv__cu_tr_eloss_item(A, h, in, col.data(), 1, rs ? A.rs : NULL, j, c);
                mv__cu_tr_scatter_item(A, h, col.data(), 1, out + j * A.plane + c, A.row, j);
            }
        return MV_OK;
    }
    mv_status stream_scatter(const mv__cu_tr_args &A, int hm, int hs, const float *in, float *out)
    {
        col.assign((size_t)A.nth, 0.0f);
        for (int64_t j = 0; j < A.ne; j++)
            for (int64_t c = 0; c < A.row; c++) {
                mv__cu_tr_stream_item(A, hm, in, col.data(), 1, j, c);
                mv__cu_tr_scatter_item(A, hs, col.data(), 1, out + j * A.plane + c, A.row, j);
            }
        return MV_OK;
    }
    mv_status rowsum(const mv__cu_tr_args &A, const float *in)
    {
        for (int64_t j = 0; j < A.ne; j++)
            for (int64_t c = 0; c < A.row; c++) A.rs[j * A.row + c] = mv__cu_tr_theta_sum(in + j * A.plane + c, A.row, A.nth);
        return MV_OK;
    }
    mv_status dose(const mv__cu_tr_args &A, int h, double *d)
    {
        for (int64_t c = 0; c < A.row; c++) d[c] = mv__cu_tr_dose_at(d[c], A.rs, A.row, A.ne, A.op[h].el_dep, c);
        return MV_OK;
    }
    mv_status totals(const mv__cu_tr_args &A, double *tot)
    {
        for (int64_t j = 0; j < A.ne; j++) tot[j] = mv__cu_tr_bin_total(0.0, A.rs + j * A.row, A.row);
        return MV_OK;
    }
    mv_status escaped(const mv__cu_tr_args &A, int h, const float *in)
    {
        for (int64_t p = 0; p < A.ne * A.nth; p++) {
            const int64_t a = p % A.nth;
            A.esc[p] = mv__cu_tr_escaped(in + p * A.row, A.nz, A.nx, A.op[h].sh[a], A.op[h].wx + a * A.nx,
                                         A.op[h].wz + a * A.nz);
        }
        return MV_OK;
    }
    mv_status balance(const mv__cu_tr_args &A, int h, int flags)
    {
        mv__cu_tr_balance_add(A, h, flags);
        return MV_OK;
    }
};

static int tr_cells_checked = 0, tr_cells_differ = 0;
static double tr_max_diff = 0;

/* a vs b, bit for bit; counts and the largest difference for the report */
static int tr_same_f32(const float *a, const float *b, int64_t n, const char *what)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        tr_cells_checked++;
        if (memcmp(a + i, b + i, 4) != 0) {
            if (bad++ == 0) first = i;
            double d = fabs((double)a[i] - (double)b[i]);
            if (d > tr_max_diff) tr_max_diff = d;
        }
    }
    tr_cells_differ += (int)bad;
    if (bad) printf("FAIL transport %s: %lld of %lld cells differ (first %lld: %.9g vs %.9g)\n", what, (long long)bad,
                    (long long)n, (long long)first, (double)a[first], (double)b[first]);
    return bad == 0;
}
static int tr_same_f64(const double *a, const double *b, int64_t n, const char *what)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, 8) != 0 && bad++ == 0) first = i;
    if (bad) printf("FAIL transport %s: %lld of %lld values differ (first %lld: %.17g vs %.17g)\n", what, (long long)bad,
                    (long long)n, (long long)first, a[first], b[first]);
    return bad == 0;
}
static int tr_same_bal(const mv_transport_balance *g, const mv_transport_balance *c, const char *what)
{
    const double a[8] = {g->particles_in, g->particles_out, g->particles_escaped, g->particles_absorbed,
                         g->energy_in, g->energy_out, g->energy_escaped, g->energy_deposited};
    const double b[8] = {c->particles_in, c->particles_out, c->particles_escaped, c->particles_absorbed,
                         c->energy_in, c->energy_out, c->energy_escaped, c->energy_deposited};
    char w[320];
    snprintf(w, sizeof(w), "%s balance (in out esc abs, E in out esc dep)", what);
    return tr_same_f64(a, b, 8, w);
}

/* One grid: a CPU plan, its tables packed as for the device (host memory),
   then every operator (mv_transport_apply) and three steps
   (mv_transport_step) against the device's sequences run by host_tr. */
static void tr_case(mv_transport_opts o, const char *grid)
{
    mv_transport *cpu = NULL;
    mv__cu_tr_layout L;
    int64_t dims[4];
    size_t soff[6];
    char what[256];
    checks++;
    if (mv_transport_create(&o, &cpu) != MV_OK || mv__cu_tr_pack(cpu, &L, NULL, dims) != MV_OK) {
        printf("FAIL transport %s: %s\n", grid, mv_last_error());
        fails++;
        mv_transport_free(cpu);
        return;
    }
    std::vector<unsigned char> tab(L.bytes + 16), scr(mv__cu_tr_scratch_layout(dims, soff) + 16);
    /* the block as the device gets it; memcpy'd structs land 16-byte aligned */
    unsigned char *tb = tab.data() + ((16 - ((uintptr_t)tab.data() & 15)) & 15);
    unsigned char *sb = scr.data() + ((16 - ((uintptr_t)scr.data() & 15)) & 15);
    mv__cu_tr_pack(cpu, &L, tb, dims);
    mv__cu_tr_args A = mv__cu_tr_args_at(dims, &L, tb, sb);
    const mv__cu_tr_tile_need need = mv__cu_tr_tile_needs(cpu);
    A.tile = mv__cu_tr_plan_tile(&need, 132); /* an H100's SMs: Lie fused steps without bookkeeping take one kernel */
    const int64_t n = A.ne * A.plane;
    std::vector<float> in((size_t)n), cout_((size_t)n), gout((size_t)n);
    std::vector<double> cd((size_t)A.row), gd((size_t)A.row);
    uint64_t r = 0x2545F4914F6CDD1Dull;
    int ok = 1;
    for (int64_t i = 0; i < n; i++) { /* dense positive values, every tenth cell zero */
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        in[(size_t)i] = (r % 10) ? (float)((double)(r >> 40) / 16777216.0 * 3.0 + 0.01) : 0.0f;
    }
    host_tr hx;
    static const char *opn[3] = {"eloss", "scatter", "stream"};
    for (int op = 0; op < 3; op++) {
        mv_transport_balance cb, gb;
        for (int64_t c = 0; c < A.row; c++) cd[(size_t)c] = gd[(size_t)c] = 0.25 * (double)c; /* dose adds */
        memset(A.bal, 0, 8 * sizeof(double));
        mv_transport_apply(cpu, (mv_transport_op)op, in.data(), cout_.data(), cd.data(), &cb);
        mv__cu_tr_run_apply(hx, A, op, in.data(), gout.data(), gd.data(), 1);
        memcpy(&gb, A.bal, sizeof(gb)); /* b[8] is mv_transport_balance's fields in order */
        snprintf(what, sizeof(what), "%s %s", grid, opn[op]);
        ok &= tr_same_f32(gout.data(), cout_.data(), n, what);
        ok &= tr_same_f64(gd.data(), cd.data(), A.row, what);
        ok &= tr_same_bal(&gb, &cb, what);
    }
    /* three steps from a beam, and one from the dense fluence */
    {
        mv_transport_beam beam;
        memset(&beam, 0, sizeof(beam));
        beam.energy = 0.6 * o.e_max + 0.4 * o.e_min;
        beam.sigma = 1.3 * o.dx;
        beam.tilt = 7;
        std::vector<float> cp((size_t)n), cw((size_t)n), gp((size_t)n), gw((size_t)n);
        mv_transport_source(cpu, cp.data(), &beam);
        float *c0 = cp.data(), *c1 = cw.data(), *g0 = gp.data(), *g1 = gw.data();
        memcpy(g0, c0, (size_t)n * sizeof(float));
        std::fill(cd.begin(), cd.end(), 0.0);
        std::fill(gd.begin(), gd.end(), 0.0);
        for (int k = 0; k < 4; k++) {
            mv_transport_balance cb, gb;
            int swapped = 0;
            if (k == 3) { /* the dense fluence: every cell of every stencil busy */
                memcpy(c0, in.data(), (size_t)n * sizeof(float));
                memcpy(g0, in.data(), (size_t)n * sizeof(float));
            }
            memset(A.bal, 0, 8 * sizeof(double));
            mv_transport_step(cpu, &c0, &c1, cd.data(), &cb);
            mv__cu_tr_run_step(hx, A, o.split, o.fused, g0, g1, gd.data(), 1, &swapped);
            if (swapped) std::swap(g0, g1);
            memcpy(&gb, A.bal, sizeof(gb));
            snprintf(what, sizeof(what), "%s step %d", grid, k + 1);
            ok &= tr_same_f32(g0, c0, n, what);
            ok &= tr_same_f64(gd.data(), cd.data(), A.row, what);
            ok &= tr_same_bal(&gb, &cb, what);
        }
        /* two steps without bookkeeping (Lie fused: the one-kernel step), the
           first with dose */
        for (int k = 0; k < 2; k++) {
            int swapped = 0;
            mv_transport_step(cpu, &c0, &c1, k == 0 ? cd.data() : NULL, NULL);
            mv__cu_tr_run_step(hx, A, o.split, o.fused, g0, g1, k == 0 ? gd.data() : NULL, 0, &swapped);
            if (swapped) std::swap(g0, g1);
            snprintf(what, sizeof(what), "%s step %d (no balance%s)", grid, k + 5, k == 0 ? "" : ", no dose");
            ok &= tr_same_f32(g0, c0, n, what);
            ok &= tr_same_f64(gd.data(), cd.data(), A.row, what);
        }
    }
    if (!ok) fails++;
    mv_transport_free(cpu);
}

/* why tile L cannot run plan cpu's one-kernel Lie step (NULL: it can):
   the tiles must cover the plane once, hold every stencil's four sources
   of every tile cell, keep each bin's scattering window in the ring and
   fit the kernel's limits */
static const char *tr_tile_fault(const mv_transport *cpu, const mv_transport_tables &T, const mv__cu_tr_tile &L)
{
    if ((int64_t)L.ntx * L.tx < T.nx || (int64_t)(L.ntx - 1) * L.tx >= T.nx || (int64_t)L.ntz * L.tz < T.nz ||
        (int64_t)(L.ntz - 1) * L.tz >= T.nz)
        return "tiles do not cover the plane once";
    if (L.px * L.pz > MV__CU_TR_LCELLS * MV__CU_TR_LTHREADS || L.smem > 48 * 1024 ||
        L.smem < 4 * (L.ring + 2) * L.px * L.pz + 4 * 6 * T.ntheta || (L.ring & (L.ring - 1)))
        return "over the kernel's limits";
    for (int a = 0; a < T.ntheta; a++) {
        mv_transport_stencil st;
        mv_transport_get_stencil(cpu, 0, a, &st);
        /* tile cell (lz, lx) reads halo'd cells (lz + hz - iz - {0,1}, lx + hx - ix - {0,1}) */
        if (L.hx - st.ix - 1 < 0 || L.tx - 1 + L.hx - st.ix >= L.px || L.hz - st.iz - 1 < 0 ||
            L.tz - 1 + L.hz - st.iz >= L.pz)
            return "a stencil reads outside the halo";
    }
    for (int j = 0; j < T.ne; j++) {
        const int b = T.scat_start[j], k = T.scat_start[j + 1] - b;
        int lo = 0, hi = 0;
        for (int q = 0; q < k; q++) {
            lo = q == 0 || T.scat_off[b + q] < lo ? T.scat_off[b + q] : lo;
            hi = q == 0 || T.scat_off[b + q] > hi ? T.scat_off[b + q] : hi;
        }
        if (k > L.maxk || T.eloss_start[j + 1] - T.eloss_start[j] > L.maxg || hi > L.hi || hi - lo + 1 > L.ring)
            return "a bin's tables do not fit";
    }
    return NULL;
}

/* The one-kernel Lie step's tiles (mv__cu_tr_plan_tile) pass
   tr_tile_fault; expect says whether the grid must be tiled (the GPU
   group's grids that must run the kernel, the issue's baseline grid) or
   not. A tiled grid's forced tiles (mv__cu_tr_tile_fit, as
   mv_cuda_transport_set_tile takes them): the planner's own gives the
   same tile; one a column narrower (an uneven split: the last tile
   partial) passes too when it fits; the whole plane as one tile passes
   when it fits and must fit when its halo'd tile is 128 cells or fewer
   (any ring and tables fit 48 KiB with that); none of no columns or taller
   than the plane fits. */
static void tr_tile_case(const mv_transport_opts &o, int sms, int expect, const char *what)
{
    mv_transport *cpu = NULL;
    mv_transport_tables T;
    checks++;
    if (mv_transport_create(&o, &cpu) != MV_OK || mv_transport_get_tables(cpu, 0, &T) != MV_OK) {
        printf("FAIL transport tiles %s: %s\n", what, mv_last_error());
        fails++;
        mv_transport_free(cpu);
        return;
    }
    const mv__cu_tr_tile_need N = mv__cu_tr_tile_needs(cpu);
    const mv__cu_tr_tile L = mv__cu_tr_plan_tile(&N, sms);
    const char *bad = NULL;
    if (L.ok != expect) bad = expect ? "not tiled" : "tiled";
    else if (L.ok) bad = tr_tile_fault(cpu, T, L);
    if (!bad && L.ok) {
        const mv__cu_tr_tile same = mv__cu_tr_tile_fit(&N, L.tx, L.tz);
        const mv__cu_tr_tile narrower = mv__cu_tr_tile_fit(&N, L.tx > 1 ? L.tx - 1 : 1, L.tz);
        const mv__cu_tr_tile whole = mv__cu_tr_tile_fit(&N, T.nx, T.nz);
        if (memcmp(&same, &L, sizeof(L))) bad = "the planner's tile forced differs from the planner's";
        else if (narrower.ok && tr_tile_fault(cpu, T, narrower)) bad = tr_tile_fault(cpu, T, narrower);
        else if (whole.ok ? tr_tile_fault(cpu, T, whole) != NULL
                          : (int64_t)(T.nx + N.hx + N.hx1) * (T.nz + N.hz + N.hz1) <= 128)
            bad = "the whole plane as a tile: fit says otherwise";
        else if (mv__cu_tr_tile_fit(&N, 0, L.tz).ok || mv__cu_tr_tile_fit(&N, L.tx, T.nz + 1).ok)
            bad = "a tile of no columns or taller than the plane fits";
    }
    if (bad) {
        printf("FAIL transport tiles %s (%d SMs): %s (ok %d, tile %dx%d, halo'd %dx%d, ring %d)\n", what, sms, bad, L.ok,
               L.tx, L.tz, L.px, L.pz, L.ring);
        fails++;
    } else if (getenv("MV_VERBOSE"))
        printf("transport tiles %s (%d SMs): ok %d, tile %dx%d of %dx%d, halo'd %dx%d, ring %d, %d B\n", what, sms, L.ok,
               L.tx, L.tz, L.ntx, L.ntz, L.px, L.pz, L.ring, L.smem);
    mv_transport_free(cpu);
}

/* a transport test grid; flag: check_transport_tiles' expectation or
   check_transport's no_scatter */
struct tr_grid {
    int nx, nz, nth, ne;
    double dx, dz, step, emin, emax;
    int flag;
    const char *what;
};
static mv_transport_opts tr_grid_opts(const tr_grid &g)
{
    mv_transport_opts o;
    memset(&o, 0, sizeof(o));
    o.nx = g.nx;
    o.nz = g.nz;
    o.ntheta = g.nth;
    o.ne = g.ne;
    o.dx = g.dx;
    o.dz = g.dz;
    o.step = g.step;
    o.e_min = g.emin;
    o.e_max = g.emax;
    return o;
}

static void check_transport_tiles(void)
{
    static const tr_grid grids[] = {
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, "the baseline 40x40 x72 x200"},
        /* tests/test_cuda.cu's grids */
        {37, 23, 12, 11, 1.0, 1.0, 0, 5, 60, 1, "37x23 x12 x11"},
        {29, 31, 36, 9, 0.5, 0.7, 1.6, 1, 30, 1, "29x31 x36 x9"},
        {131, 129, 8, 5, 1.0, 1.0, 1.0, 5, 40, 1, "131x129 x8 x5"},
        {9, 7, 400, 4, 1.0, 1.0, 1.0, 20, 60, 1, "9x7 x400 x4"},
        {7, 5, 200, 3, 1.0, 1.0, 1.0, 20, 60, 1, "7x5 x200 x3"},
        {11, 9, 24, 150, 1.0, 1.0, 1.0, 3, 80, 1, "11x9 x24 x150"},
        {20, 20, 8, 132, 1.0, 1.0, 1.0, 3, 120, 1, "20x20 x8 x132"},
        {14, 14, 6, 132, 1.0, 1.0, 1.0, 3, 120, 1, "14x14 x6 x132"},
        /* the kernel's offsets are int: a fluence of 2^31 - 1 values or
           fewer tiles (2047 bins: 2146435072), one of more does not */
        {128, 128, 64, 2047, 1.0, 1.0, 1.0, 5, 60, 1, "128x128 x64 x2047, under 2^31 values"},
        {128, 128, 64, 2048, 1.0, 1.0, 1.0, 5, 60, 0, "128x128 x64 x2048, 2^31 values"},
        /* moves of 12 cells a step: a halo of 25 cells, 8x6 tiles (33x31 with it) */
        {40, 40, 16, 5, 0.25, 0.25, 3.0, 20, 60, 1, "40x40 x16 x5, steps of 12 cells"},
        /* of 16 cells: a halo of 33, no tile fits 1024 cells */
        {40, 40, 16, 5, 0.25, 0.25, 4.0, 20, 60, 0, "40x40 x16 x5, steps of 16 cells"},
    };
    for (size_t i = 0; i < sizeof(grids) / sizeof(grids[0]); i++)
        for (int sms = 1; sms <= 132; sms += 131) tr_tile_case(tr_grid_opts(grids[i]), sms, grids[i].flag, grids[i].what);
}

static void check_transport(void)
{
    static const tr_grid grids[] = { /* flag: no scattering */
        {7, 5, 12, 9, 1.0, 1.0, 0, 5, 60, 0, "7x5 x12 x9, 1 mm cells and steps"},
        {9, 6, 16, 7, 0.5, 0.7, 1.6, 3, 30, 0, "9x6 x16 x7, steps of several cells"},
        {6, 4, 4, 5, 1.0, 1.0, 1.0, 5, 40, 0, "6x4 x4 x5, whole-cell copies"},
        {5, 7, 36, 8, 0.8, 0.8, 2.0, 1, 12, 0, "5x7 x36 x8, wide scattering (folded kernels)"},
        {8, 3, 8, 6, 1.0, 0.5, 0.9, 10, 80, 1, "8x3 x8 x6, no scattering"},
    };
    for (size_t i = 0; i < sizeof(grids) / sizeof(grids[0]); i++)
        for (int split = 0; split < 2; split++)
            for (int fused = 0; fused < 2; fused++) {
                mv_transport_opts o = tr_grid_opts(grids[i]);
                char what[160];
                o.no_scatter = grids[i].flag;
                o.split = split ? MV_SPLIT_STRANG : MV_SPLIT_LIE;
                o.fused = fused;
                o.threads = 1 + (int)(i % 2); /* the CPU's bytes do not depend on it */
                snprintf(what, sizeof(what), "%s, %s%s", grids[i].what, split ? "Strang" : "Lie", fused ? " fused" : "");
                tr_case(o, what);
            }
    checks++;
    if (!mv__cu_tr_fuses(72) || !mv__cu_tr_fuses(384) || mv__cu_tr_fuses(385)) {
        printf("FAIL transport: which angle counts the fused kernels take\n");
        fails++;
    }
    printf("transport: %d fluence cells compared, %d differ (max |diff| %g)\n", tr_cells_checked, tr_cells_differ,
           tr_max_diff);
}

/* ---- the demons update and the field's exponential ---- */

/* fixed and warped float32 images on field u's grid: smooth structure, a
   flat patch (the force's zero denominator) and one NaN */
static void demons_images(const mv_vol *u, mv_vol *F, mv_vol *W)
{
    const int64_t d3[3] = {u->dim[0], u->dim[1], u->dim[2]};
    if (mv_vol_alloc(F, MV_DT_F32, 3, d3, NULL) != MV_OK || mv_vol_alloc(W, MV_DT_F32, 3, d3, NULL) != MV_OK) exit(1);
    int64_t n = d3[0] * d3[1] * d3[2];
    for (int64_t i = 0; i < n; i++) {
        double x = (double)(i % d3[0]), y = (double)(i / d3[0] % d3[1]), z = (double)(i / (d3[0] * d3[1]));
        ((float *)F->data)[i] = (float)(100 * sin(0.3 * x + 0.2 * y) * cos(0.25 * z) + 7 * y);
        ((float *)W->data)[i] = (float)(100 * sin(0.3 * x + 0.2 * y + 0.4) * cos(0.25 * z - 0.1) + 7 * y + 0.3 * x);
        /* differences of very different sizes, so that the MSE's sums round and their order shows */
        if (i % 5 == 2) ((float *)W->data)[i] = ((float *)F->data)[i] + (float)(1e-3 * sin(1.7 * (double)i));
        if (i % 11 == 3) ((float *)W->data)[i] = (float)(3e4 * cos(0.9 * (double)i));
    }
    for (int64_t i = 0; i < 6 && i < n; i++) ((float *)F->data)[i] = ((float *)W->data)[i] = 5; /* flat */
    ((float *)W->data)[n / 2] = NAN;
}

/* nan = 1: one warped voxel NaN (its force is 0; the MSE is NaN on both
   sides, so the MSE's order is checked by the nan = 0 pass) */
static void demons_case(int64_t X, int64_t Y, int64_t Z, int nc, double max_step, int nan, const char *what)
{
    mv_vol u, F, W, got;
    mv__cu_dmgeo g;
    double mse_cpu = 0;
    int64_t bad = 0;
    checks++;
    make_field(&u, X, Y, Z, nc, 0.0, 0.3);
    demons_images(&u, &F, &W);
    if (!nan) ((float *)W.data)[mv_vol_count(&W) / 2] = 1.5f;
    if (mv_vol_copy(&u, &got) != MV_OK) exit(1);
    if (mv_demons_update_into(&F, &W, &u, max_step, NULL, &mse_cpu) != MV_OK ||
        mv__cu_dm_setup(&u, max_step, &g, "host") != MV_OK) {
        fails++;
        printf("FAIL demons %s: %s\n", what, mv_last_error());
        return;
    }
    for (int64_t z = 0; z < Z; z++)
        for (int64_t y = 0; y < Y; y++)
            for (int64_t x = 0; x < X; x++)
                mv__cu_dm_force_at(g, (const float *)F.data, (const float *)W.data, (float *)got.data, x, y, z);
    for (int64_t i = 0; i < mv_vol_count(&u); i++) bad += memcmp((float *)u.data + i, (float *)got.data + i, 4) != 0;
    /* the MSE: rows in x order, the CPU's blocks of rows, the blocks in order */
    const int64_t rows = Y * Z, blocks = rows < MV__CU_FD_BLOCKS ? rows : MV__CU_FD_BLOCKS;
    double *rowsum = (double *)malloc((size_t)rows * sizeof(double)), s = 0;
    for (int64_t r = 0; r < rows; r++) rowsum[r] = mv__cu_dm_rowsum((const float *)F.data, (const float *)W.data, X, r);
    for (int64_t b = 0; b < blocks; b++) s += mv__cu_dm_block_sum(rowsum, rows, blocks, b);
    double mse = s / (double)(X * rows);
    free(rowsum);
    if (bad || memcmp(&mse, &mse_cpu, sizeof(mse)) != 0 || (!nan && !(mse > 0))) {
        fails++;
        printf("FAIL demons %s: %lld of %lld values differ from mv_demons_update_into; mse %.17g cpu %.17g\n", what,
               (long long)bad, (long long)mv_vol_count(&u), mse, mse_cpu);
    }
    mv_free(&u);
    mv_free(&F);
    mv_free(&W);
    mv_free(&got);
}

static void exp_case(int nc, double amp, int squarings, const char *what)
{
    mv_vol v, cpu, a, b;
    mv_field_info info;
    mv_field_opts o;
    mv__cu_l2v L;
    mv__cu_fdmap w;
    checks++;
    make_field(&v, 13, 11, nc == 2 ? 1 : 9, nc, amp, 0.2);
    memset(&o, 0, sizeof(o));
    o.squarings = squarings;
    if (mv_vol_copy(&v, &cpu) != MV_OK || mv_vol_copy(&v, &a) != MV_OK || mv_vol_copy(&v, &b) != MV_OK) exit(1);
    if (mv_field_exp_into(&v, &cpu, &o, &info) != MV_OK || mv__cu_fd_l2v(&v, L.m, "host") != MV_OK ||
        mv__cu_fd_compose_map(&v, &v, &w, "host") != MV_OK) {
        fails++;
        printf("FAIL exp %s: %s\n", what, mv_last_error());
        return;
    }
    const int64_t nv = v.dim[0] * v.dim[1] * v.dim[2], n[3] = {v.dim[0], v.dim[1], v.dim[2]};
    double mx2 = 0;
    for (int64_t i = 0; i < nv; i++) mx2 = mv__cu_nanmax(mx2, mv__cu_fd_norm2((const float *)v.data, nv, nc, L, i));
    int N = squarings > 0 ? squarings : mv__cu_fd_squarings(mx2);
    float *buf[2] = {(float *)a.data, (float *)b.data};
    for (int64_t i = 0; i < nv * nc; i++) buf[0][i] = ((const float *)v.data)[i] * ldexpf(1.0f, -N);
    for (int k = 0; k < N; k++) {
        for (int64_t z = 0; z < n[2]; z++)
            for (int64_t y = 0; y < n[1]; y++)
                for (int64_t x = 0; x < n[0]; x++) mv__cu_fd_compose_at(w, buf[k & 1], n, nv, buf[k & 1], buf[1 - (k & 1)], x, y, z);
    }
    int64_t bad = 0;
    for (int64_t i = 0; i < nv * nc; i++) bad += memcmp(buf[N & 1] + i, (const float *)cpu.data + i, 4) != 0;
    if (bad || N != info.squarings || N == 0) {
        fails++;
        printf("FAIL exp %s: %lld of %lld values differ from mv_field_exp_into; squarings %d cpu %d\n", what,
               (long long)bad, (long long)(nv * nc), N, info.squarings);
    }
    mv_free(&v);
    mv_free(&cpu);
    mv_free(&a);
    mv_free(&b);
}

static void check_demons(void)
{
    for (int nan = 0; nan < 2; nan++) {
        char what[96];
        snprintf(what, sizeof(what), "3D 13x11x7%s", nan ? ", a NaN" : "");
        demons_case(13, 11, 7, 3, 2.5, nan, what);
        snprintf(what, sizeof(what), "3D 9x37x11 (407 rows: uneven blocks)%s", nan ? ", a NaN" : "");
        demons_case(9, 37, 11, 3, 0.8, nan, what);
        snprintf(what, sizeof(what), "3D 3x211x97 (20467 rows: 79-80 per block)%s", nan ? ", a NaN" : "");
        demons_case(3, 211, 97, 3, 1.2, nan, what);
        snprintf(what, sizeof(what), "2D 17x300%s", nan ? ", a NaN" : "");
        demons_case(17, 300, 1, 2, 1.5, nan, what);
    }
    exp_case(3, 4.0, 0, "3D, squarings from the norm");
    exp_case(2, 6.0, 0, "2D, squarings from the norm");
    exp_case(3, 1.0, 3, "3D, 3 squarings asked");
}

/* ---- metric with gradient ---- */

/* the kernel's partition replayed: thread tid of block b takes voxels tid,
   tid + nth, ...; each block's sums through the tree; blocks in order */
template <int K>
static void metric_sums_host(const mv__cu_metmap &mp, const mv__cu_metsel &sel, const float *fix, const float *mov,
                             const unsigned char *mask, double *tot)
{
    const int64_t nf = mp.fd[0] * mp.fd[1] * mp.fd[2];
    const int blocks = mv__cu_met_blocks(nf), T = MV__CU_RED_THREADS;
    const int64_t nth = (int64_t)blocks * T;
    static double acc[MV__CU_RED_THREADS][MV__CU_MET_NCC];
    double sh[MV__CU_RED_THREADS];
    for (int e = 0; e < K; e++) tot[e] = 0;
    for (int b = 0; b < blocks; b++) {
        for (int t = 0; t < T; t++) {
            for (int e = 0; e < K; e++) acc[t][e] = 0;
            for (int64_t i = (int64_t)b * T + t; i < nf; i += nth) {
                if (mask && !mask[i]) continue;
                mv__cu_met_voxel<K>(mp, sel, fix, mov, i, acc[t]);
            }
        }
        for (int e = 0; e < K; e++) {
            for (int t = 0; t < T; t++) sh[t] = acc[t][e];
            for (int w = T / 2; w > 0; w >>= 1)
                for (int t = 0; t < w; t++) mv__cu_met_tree_step(sh, t, w);
            tot[e] += sh[0]; /* the final kernel: blocks in order */
        }
    }
}

static int rel_close(double a, double b, double scale, double tol) { return fabs(a - b) <= tol * scale; }

/* the worst differences from the CPU seen by the metric checks (printed at the end) */
static double met_worst_value, met_worst_grad, mi_worst_value, mi_worst_grad, lncc_worst_value, lncc_worst_grad;

/* One evaluation emulated (masks: u8 host volumes) against mv_metric_evaluate;
   v_out: the emulated value (NULL: not wanted) */
static void metric_check(const mv_vol *fix, const mv_vol *mov, const mv_transform *t, const mv_metric_opts *opts,
                         const char *what, double *v_out)
{
    mv_metric_opts o = *opts;
    const mv_metric_type metric = o.metric;
    const mv_vol *mask = o.fixed_mask;
    mv__cu_metmap mp;
    mv__cu_metsel sel;
    double W[4][4], v_cpu = 0, v = 0, g_cpu[MV_TRANSFORM_MAX_PARAMS], g[MV_TRANSFORM_MAX_PARAMS], tot[MV__CU_MET_NCC];
    int64_t n_cpu = 0, n = 0;
    checks++;
    if (mv_metric_evaluate(fix, mov, t, &o, &v_cpu, g_cpu, &n_cpu) != MV_OK ||
        mv__cu_met_setup(fix, mov, t, (int)metric, &mp, W, "host") != MV_OK) {
        fails++;
        printf("FAIL metric %s: %s\n", what, mv_last_error());
        return;
    }
    if (o.moving_mask) mp.mmask = o.moving_mask->data, mp.mmask_dt = MV_DT_U8;
    const unsigned char *mmk = o.moving_mask ? (const unsigned char *)o.moving_mask->data : NULL;
    const int64_t nf = mp.fd[0] * mp.fd[1] * mp.fd[2];
    unsigned long long ncand = 0;
    for (int64_t i = 0; i < nf; i++)
        ncand += isfinite(((const float *)fix->data)[i]) && (!mask || ((const unsigned char *)mask->data)[i]);
    mv__cu_met_resolve(&o, ncand, &sel);
    const unsigned char *mk = mask ? (const unsigned char *)mask->data : NULL;
    double tol = 1e-9;
    if (metric == MV_METRIC_MI) {
        /* the ranges, the fixed-point histogram (integers: any order), the
           host's MI and table, pass 2 in the kernel's partition, the chain */
        const float *fp = (const float *)fix->data, *mp_ = (const float *)mov->data;
        const int64_t nm = mp.md[0] * mp.md[1] * mp.md[2];
        double fmin = INFINITY, fmax = -INFINITY, mmin = INFINITY, mmax = -INFINITY;
        for (int64_t i = 0; i < nf; i++)
            if (isfinite(fp[i]) && (!mk || mk[i])) fmin = fmin < fp[i] ? fmin : fp[i], fmax = fmax > fp[i] ? fmax : fp[i];
        for (int64_t i = 0; i < nm; i++)
            if (isfinite(mp_[i]) && (!mmk || mmk[i]))
                mmin = mmin < mp_[i] ? mmin : mp_[i], mmax = mmax > mp_[i] ? mmax : mp_[i];
        const int nb = 24;
        mv__cu_mi_setup(fmin, fmax, mmin, mmax, nb, nf, &mp.mi);
        unsigned long long *h = (unsigned long long *)calloc((size_t)nb * nb, sizeof(*h)), count = 0;
        double *P = (double *)malloc(((size_t)nb * nb + 2 * nb) * sizeof(double));
        for (int64_t i = 0; i < nf; i++) {
            int l, idx;
            double pw[4];
            if (mk && !mk[i]) continue;
            if (!mv__cu_mi_sample(mp, sel, fp, mp_, i, &l, &idx, pw)) continue;
            count++;
            for (int r = 0; r < 4; r++) h[(size_t)l * nb + idx - 1 + r] += mv__cu_mi_fix(pw[r], mp.mi.scale);
        }
        v = -mv__cu_mi_from_hist(h, mp.mi.scale, (double)count, nb, P);
        n = (int64_t)count;
        mp.mi.lut = P;
        metric_sums_host<MV__CU_MET_MI2>(mp, sel, fp, mp_, mk, tot);
        mv__cu_met_chain(fix, W, t, tot + 1, 1.0 / ((double)count * mp.mi.mbin), g);
        free(h);
        free(P);
        tol = 1e-6; /* the fixed-point histogram */
    } else if (metric == MV_METRIC_MSE)
        metric_sums_host<MV__CU_MET_MSE>(mp, sel, (const float *)fix->data, (const float *)mov->data, mk, tot);
    else
        metric_sums_host<MV__CU_MET_NCC>(mp, sel, (const float *)fix->data, (const float *)mov->data, mk, tot);
    if (metric != MV_METRIC_MI && mv__cu_met_finish(fix, W, t, (int)metric, tot, &v, g, &n, "host") != MV_OK) {
        fails++;
        printf("FAIL metric %s: %s\n", what, mv_last_error());
        return;
    }
    double gmax = 0, worst = 0;
    for (int k = 0; k < t->nparams; k++) gmax = fmax(gmax, fabs(g_cpu[k]));
    int ok = n == n_cpu && isfinite(v_cpu) && rel_close(v, v_cpu, fabs(v_cpu), tol);
    for (int k = 0; k < t->nparams; k++) {
        ok &= rel_close(g[k], g_cpu[k], gmax, tol);
        worst = fmax(worst, fabs(g[k] - g_cpu[k]) / (gmax > 0 ? gmax : 1));
    }
    double *wv = metric == MV_METRIC_MI ? &mi_worst_value : &met_worst_value;
    double *wg = metric == MV_METRIC_MI ? &mi_worst_grad : &met_worst_grad;
    *wv = fmax(*wv, fabs(v - v_cpu) / fabs(v_cpu));
    *wg = fmax(*wg, worst);
    if (v_out) *v_out = v;
    if (!ok) {
        fails++;
        printf("FAIL metric %s: value %.17g cpu %.17g, samples %lld cpu %lld, worst gradient difference %.3g of the "
               "largest\n",
               what, v, v_cpu, (long long)n, (long long)n_cpu, worst);
    }
}

static void metric_case(const mv_vol *fix, const mv_vol *mov, const mv_transform *t, mv_metric_type metric,
                        mv_sampling samp, double fraction, const mv_vol *mask, const char *what)
{
    mv_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.metric = metric;
    o.sampling = samp;
    o.fraction = fraction;
    o.stride = 3;
    o.seed = 77;
    o.fixed_mask = mask;
    metric_check(fix, mov, t, &o, what, NULL);
}

/* a smooth float32 image of dims d with an oblique affine; nan: one NaN
   voxel (fixed images: the sampler skips it; a moving NaN would make the
   metric NaN on both sides) */
static void metric_image(mv_vol *v, int64_t X, int64_t Y, int64_t Z, double phase, double rot, double sp, int nan)
{
    const int64_t d3[3] = {X, Y, Z};
    if (mv_vol_alloc(v, MV_DT_F32, Z > 1 ? 3 : 2, d3, NULL) != MV_OK) exit(1);
    int64_t n = X * Y * Z;
    for (int64_t i = 0; i < n; i++) {
        double x = (double)(i % X), y = (double)(i / X % Y), z = (double)(i / (X * Y));
        ((float *)v->data)[i] = (float)(300 + 200 * sin(0.21 * x + phase) * cos(0.17 * y - 0.5 * phase) + 40 * sin(0.3 * z) +
                                        0.5 * (double)((i * 2654435761u) % 17));
    }
    if (nan) ((float *)v->data)[n / 3] = NAN;
    memset(v->affine, 0, sizeof(v->affine));
    v->affine[0][0] = sp * cos(rot);
    v->affine[0][1] = -sp * sin(rot);
    v->affine[1][0] = sp * sin(rot);
    v->affine[1][1] = sp * cos(rot);
    v->affine[2][2] = 1.3 * sp;
    v->affine[0][3] = -0.5 * sp * (double)X;
    v->affine[1][3] = -0.45 * sp * (double)Y;
    v->affine[2][3] = Z > 1 ? -0.55 * (double)Z : 0;
    v->affine[3][3] = 1;
}

/* the rigid and affine transforms (about centre c) the metric checks evaluate */
static void metric_transforms(const double c[3], mv_transform *rigid, mv_transform *aff)
{
    mv_transform_init(rigid, MV_TRANSFORM_RIGID, 3, c);
    rigid->params[0] = 0.05, rigid->params[1] = -0.03, rigid->params[2] = 0.08;
    rigid->params[3] = 0.7, rigid->params[4] = -1.1, rigid->params[5] = 0.35;
    mv_transform_init(aff, MV_TRANSFORM_AFFINE, 3, c);
    const double A[12] = {1.03, 0.02, -0.01, -0.03, 0.97, 0.04, 0.01, -0.02, 1.05, 0.4, -0.6, 0.9};
    memcpy(aff->params, A, sizeof(A));
}

static void check_metric(void)
{
    mv_vol fix, mov, mask, bigf, bigm;
    mv_transform rigid, aff, tr2;
    const double c[3] = {1.5, -2.25, 0.75};
    metric_image(&fix, 23, 19, 13, 0.0, 0.1, 1.1, 1);
    metric_image(&mov, 21, 17, 15, 0.3, -0.05, 1.2, 0);
    const int64_t md[3] = {23, 19, 13};
    if (mv_vol_alloc(&mask, MV_DT_U8, 3, md, NULL) != MV_OK) exit(1);
    for (int64_t i = 0; i < mv_vol_count(&mask); i++) ((unsigned char *)mask.data)[i] = (i % 23) > 3 && (i / 23 % 19) < 16;
    metric_transforms(c, &rigid, &aff);
    for (int m = 0; m < 3; m++) {
        mv_metric_type mt = m == 2 ? MV_METRIC_MI : m ? MV_METRIC_NCC : MV_METRIC_MSE;
        char what[128];
        const char *mn = m == 2 ? "MI" : m ? "NCC" : "MSE";
        snprintf(what, sizeof(what), "%s rigid full", mn);
        metric_case(&fix, &mov, &rigid, mt, MV_SAMPLING_FULL, 0, NULL, what);
        snprintf(what, sizeof(what), "%s affine full, fixed mask", mn);
        metric_case(&fix, &mov, &aff, mt, MV_SAMPLING_FULL, 0, &mask, what);
        snprintf(what, sizeof(what), "%s affine stride 3", mn);
        metric_case(&fix, &mov, &aff, mt, MV_SAMPLING_STRIDE, 0, NULL, what);
        snprintf(what, sizeof(what), "%s rigid random 0.3", mn);
        metric_case(&fix, &mov, &rigid, mt, MV_SAMPLING_RANDOM, 0.3, NULL, what);
    }
    /* 2D images (an axis of one voxel on both sides) */
    {
        mv_vol f2, m2;
        const double c2[3] = {0.5, 1.0, 0};
        metric_image(&f2, 31, 27, 1, 0.1, 0.2, 0.9, 1);
        metric_image(&m2, 29, 33, 1, 0.4, 0.0, 1.0, 0);
        mv_transform_init(&tr2, MV_TRANSFORM_SIMILARITY, 2, c2);
        tr2.params[0] = 1.02, tr2.params[1] = 0.06, tr2.params[2] = 0.8, tr2.params[3] = -0.4;
        metric_case(&f2, &m2, &tr2, MV_METRIC_MSE, MV_SAMPLING_FULL, 0, NULL, "MSE 2D similarity");
        metric_case(&f2, &m2, &tr2, MV_METRIC_NCC, MV_SAMPLING_FULL, 0, NULL, "NCC 2D similarity");
        metric_case(&f2, &m2, &tr2, MV_METRIC_MI, MV_SAMPLING_FULL, 0, NULL, "MI 2D similarity");
        mv_free(&f2);
        mv_free(&m2);
    }
    /* more voxels than 2^18 (AUTO takes the coin) and than the grid's threads
       (a thread takes two voxels) */
    metric_image(&bigf, 71, 67, 59, 0.0, 0.05, 1.0, 1);
    metric_image(&bigm, 65, 69, 61, 0.2, 0.0, 1.05, 0);
    metric_case(&bigf, &bigm, &rigid, MV_METRIC_NCC, MV_SAMPLING_AUTO, 0, NULL, "NCC rigid auto (random) 71x67x59");
    metric_case(&bigf, &bigm, &aff, MV_METRIC_MSE, MV_SAMPLING_FULL, 0, NULL, "MSE affine full 71x67x59");
    metric_case(&bigf, &bigm, &aff, MV_METRIC_MI, MV_SAMPLING_AUTO, 0, NULL, "MI affine auto (random) 71x67x59");
    mv_free(&bigf);
    mv_free(&bigm);
    mv_free(&fix);
    mv_free(&mov);
    mv_free(&mask);
}

/* LNCC emulated: the device's five steps through the kernels' item
   functions over every voxel, line and row (host arrays where the device
   has its own), the rows' sums and the box sequence by the very host
   functions mv_cuda_metric_evaluate calls, against mv_metric_evaluate:
   the value must be the CPU's bits, the gradient within 1e-9 of its
   largest component (the chain: mv__cu_met_chain against mv__reg_chain) */
static void lncc_case(const mv_vol *fix, const mv_vol *mov, const mv_transform *t, int radius, const mv_vol *fmask,
                      const mv_vol *mmask, const char *what)
{
    mv_metric_opts o;
    mv__cu_metmap mp;
    mv__cu_lncc L;
    double W[4][4], v_cpu = 0, v = 0, g_cpu[MV_TRANSFORM_MAX_PARAMS], g[MV_TRANSFORM_MAX_PARAMS], tot[12];
    int64_t n_cpu = 0;
    checks++;
    memset(&o, 0, sizeof(o));
    o.metric = MV_METRIC_LNCC;
    o.radius = radius;
    o.fixed_mask = fmask;
    o.moving_mask = mmask;
    if (mv_metric_evaluate(fix, mov, t, &o, &v_cpu, g_cpu, &n_cpu) != MV_OK ||
        mv__cu_met_setup(fix, mov, t, MV_METRIC_LNCC, &mp, W, "host") != MV_OK) {
        fails++;
        printf("FAIL lncc %s: %s\n", what, mv_last_error());
        return;
    }
    if (mmask) mp.mmask = mmask->data, mp.mmask_dt = MV_DT_U8;
    const int64_t N = mp.fd[0] * mp.fd[1] * mp.fd[2], rows = mp.fd[1] * mp.fd[2];
    std::vector<double> arrays((size_t)N * 7), part((size_t)rows * 12);
    std::vector<float> mg((size_t)N * 4);
    memset(&L, 0, sizeof(L));
    L.mp = mp;
    L.fix = (const float *)fix->data, L.mov = (const float *)mov->data;
    if (fmask) L.fmask = fmask->data, L.fmask_dt = MV_DT_U8;
    for (int q = 0; q < 6; q++) L.S[q] = arrays.data() + (size_t)q * N;
    double *spare = arrays.data() + (size_t)6 * N;
    L.m = mg.data(), L.g = mg.data() + N;
    L.radius = radius > 0 ? radius : 2;
    auto box = [&](const double *src, double *dst, int ax) {
        for (int64_t l = 0; l < N / mp.fd[ax]; l++) mv__cu_lncc_box_line(src, dst, mp.fd, ax, L.radius, l);
    };
    for (int64_t i = 0; i < N; i++) mv__cu_lncc_fill_at(L, i);
    for (int64_t r = 0; r < rows; r++) mv__cu_lncc_fill_row(L, r, part.data() + 3 * r);
    mv__cu_lncc_rows_sum(part.data(), rows, 3, tot);
    const int64_t n = (int64_t)tot[0];
    L.gff = tot[1] / tot[0], L.gmm = tot[2] / tot[0];
    mv__cu_lncc_boxes(&L, &spare, 6, box);
    for (int64_t i = 0; i < N; i++) mv__cu_lncc_centre_at(L, i);
    for (int64_t r = 0; r < rows; r++) mv__cu_lncc_centre_row(L, r, part.data() + 2 * r);
    mv__cu_lncc_rows_sum(part.data(), rows, 2, tot);
    L.nc = tot[1];
    v = L.nc > 0 ? -tot[0] / L.nc : 0;
    for (int k = 0; k < t->nparams; k++) g[k] = 0;
    if (L.nc > 0) {
        mv__cu_lncc_boxes(&L, &spare, 4, box);
        for (int64_t r = 0; r < rows; r++) mv__cu_lncc_grad_row(L, r, part.data() + 12 * r);
        mv__cu_lncc_rows_sum(part.data(), rows, 12, tot);
        mv__cu_met_chain(fix, W, t, tot, 1.0, g);
    }
    double gmax = 0, worst = 0;
    for (int k = 0; k < t->nparams; k++) gmax = fmax(gmax, fabs(g_cpu[k]));
    int ok = n == n_cpu && isfinite(v_cpu) && memcmp(&v, &v_cpu, sizeof(v)) == 0;
    for (int k = 0; k < t->nparams; k++) {
        ok &= rel_close(g[k], g_cpu[k], gmax, 1e-9);
        worst = fmax(worst, fabs(g[k] - g_cpu[k]) / (gmax > 0 ? gmax : 1));
    }
    lncc_worst_value = fmax(lncc_worst_value, v_cpu != 0 ? fabs(v - v_cpu) / fabs(v_cpu) : fabs(v));
    lncc_worst_grad = fmax(lncc_worst_grad, worst);
    if (getenv("MV_VERBOSE"))
        printf("lncc %s: value %.17g (cpu %.17g), %lld samples, gradient %.3g of the largest\n", what, v, v_cpu,
               (long long)n, worst);
    if (!ok) {
        fails++;
        printf("FAIL lncc %s: value %.17g cpu %.17g, samples %lld cpu %lld, worst gradient difference %.3g of the "
               "largest\n",
               what, v, v_cpu, (long long)n, (long long)n_cpu, worst);
    }
}

/* a u8 mask of the grid of v: 1 except where keep(x, y, z) says 0 */
template <typename F>
static void metric_mask(mv_vol *m, const mv_vol *like, F keep)
{
    const int64_t d3[3] = {like->dim[0], like->dim[1], like->ndim > 2 ? like->dim[2] : 1};
    if (mv_vol_alloc(m, MV_DT_U8, like->ndim, d3, NULL) != MV_OK) exit(1);
    for (int64_t i = 0; i < d3[0] * d3[1] * d3[2]; i++)
        ((unsigned char *)m->data)[i] = keep(i % d3[0], i / d3[0] % d3[1], i / (d3[0] * d3[1])) ? 1 : 0;
}

/* moving masks (MSE, NCC, MI: the nearest voxel of each mapped point),
   jittered samples, and LNCC: 3D and 2D, odd sizes, translation / rigid /
   affine / similarity, masks on either side */
static void check_metric_lncc(void)
{
    mv_vol fix, mov, fmask, mmask, f2, m2, fm2, mm2, bigf, bigm;
    mv_transform tr, rigid, aff, sim2, rig2;
    const double c[3] = {1.5, -2.25, 0.75}, c2[3] = {0.5, 1.0, 0};
    metric_image(&fix, 23, 19, 13, 0.0, 0.1, 1.1, 1);
    metric_image(&mov, 21, 17, 15, 0.3, -0.05, 1.2, 0);
    metric_mask(&fmask, &fix, [](int64_t x, int64_t y, int64_t) { return x > 3 && y < 16; });
    metric_mask(&mmask, &mov, [](int64_t x, int64_t y, int64_t z) { return !(x > 12 && z < 9) && y != 4; });
    mv_transform_init(&tr, MV_TRANSFORM_TRANSLATION, 3, c);
    tr.params[0] = 0.6, tr.params[1] = -0.9, tr.params[2] = 0.4;
    metric_transforms(c, &rigid, &aff);
    for (int m = 0; m < 3; m++) {
        const mv_metric_type mt = m == 2 ? MV_METRIC_MI : m ? MV_METRIC_NCC : MV_METRIC_MSE;
        const char *mn = m == 2 ? "MI" : m ? "NCC" : "MSE";
        char what[128];
        mv_metric_opts o;
        double v_plain = 0, v_jit = 0;
        int64_t n_all = 0, n_masked = 0;
        memset(&o, 0, sizeof(o));
        o.metric = mt;
        o.seed = 77;
        /* a moving mask: fewer samples, the same as the CPU's */
        o.sampling = MV_SAMPLING_FULL;
        mv_metric_evaluate(&fix, &mov, &rigid, &o, &v_plain, NULL, &n_all);
        o.moving_mask = &mmask;
        snprintf(what, sizeof(what), "%s rigid full, moving mask", mn);
        metric_check(&fix, &mov, &rigid, &o, what, NULL);
        mv_metric_evaluate(&fix, &mov, &rigid, &o, &v_plain, NULL, &n_masked);
        checks++;
        if (!(n_masked < n_all)) fails++, printf("FAIL %s: the mask took no sample (%lld)\n", what, (long long)n_all);
        o.fixed_mask = &fmask;
        o.sampling = MV_SAMPLING_STRIDE, o.stride = 2;
        snprintf(what, sizeof(what), "%s affine stride 2, both masks", mn);
        metric_check(&fix, &mov, &aff, &o, what, NULL);
        /* jittered random samples: the CPU's points and values (and not the
           voxel centres: the value moves) */
        o.fixed_mask = NULL, o.moving_mask = NULL;
        o.sampling = MV_SAMPLING_RANDOM, o.fraction = 0.4;
        snprintf(what, sizeof(what), "%s rigid random 0.4", mn);
        metric_check(&fix, &mov, &rigid, &o, what, &v_plain);
        o.jitter = 1;
        snprintf(what, sizeof(what), "%s rigid random 0.4 jittered", mn);
        metric_check(&fix, &mov, &rigid, &o, what, &v_jit);
        checks++;
        if (!(v_jit != v_plain)) fails++, printf("FAIL %s: the jitter moved nothing\n", what);
        o.fixed_mask = &fmask, o.moving_mask = &mmask, o.seed = 3;
        snprintf(what, sizeof(what), "%s affine random 0.4 jittered, both masks", mn);
        metric_check(&fix, &mov, &aff, &o, what, NULL);
        o.sampling = MV_SAMPLING_FULL; /* FULL ignores jitter, on both sides */
        snprintf(what, sizeof(what), "%s affine full, jitter asked", mn);
        metric_check(&fix, &mov, &aff, &o, what, NULL);
    }
    lncc_case(&fix, &mov, &tr, 0, NULL, NULL, "translation r2 (default)");
    lncc_case(&fix, &mov, &rigid, 1, &fmask, NULL, "rigid r1, fixed mask");
    lncc_case(&fix, &mov, &aff, 3, &fmask, &mmask, "affine r3, both masks");
    lncc_case(&fix, &mov, &aff, 7, NULL, &mmask, "affine r7 (wider than z), moving mask");
    /* 2D: an axis of one voxel (no box along it) */
    metric_image(&f2, 31, 27, 1, 0.1, 0.2, 0.9, 1);
    metric_image(&m2, 29, 33, 1, 0.4, 0.0, 1.0, 0);
    metric_mask(&fm2, &f2, [](int64_t x, int64_t y, int64_t) { return x + y > 6; });
    metric_mask(&mm2, &m2, [](int64_t x, int64_t, int64_t) { return x < 25; });
    mv_transform_init(&sim2, MV_TRANSFORM_SIMILARITY, 2, c2);
    sim2.params[0] = 1.02, sim2.params[1] = 0.06, sim2.params[2] = 0.8, sim2.params[3] = -0.4;
    mv_transform_init(&rig2, MV_TRANSFORM_RIGID, 2, c2);
    rig2.params[0] = -0.07, rig2.params[1] = 1.2, rig2.params[2] = 0.3;
    lncc_case(&f2, &m2, &sim2, 2, NULL, NULL, "2D similarity r2");
    lncc_case(&f2, &m2, &rig2, 4, &fm2, &mm2, "2D rigid r4, both masks");
    {
        mv_metric_opts o;
        memset(&o, 0, sizeof(o));
        o.metric = MV_METRIC_NCC, o.sampling = MV_SAMPLING_RANDOM, o.fraction = 0.5, o.jitter = 1, o.moving_mask = &mm2;
        metric_check(&f2, &m2, &sim2, &o, "NCC 2D random 0.5 jittered, moving mask", NULL);
    }
    /* larger than AUTO's 2^18: AUTO draws the coin, jitter applies */
    metric_image(&bigf, 71, 67, 59, 0.0, 0.05, 1.0, 1);
    metric_image(&bigm, 65, 69, 61, 0.2, 0.0, 1.05, 0);
    {
        mv_metric_opts o;
        memset(&o, 0, sizeof(o));
        o.metric = MV_METRIC_MSE, o.jitter = 1, o.seed = 11;
        metric_check(&bigf, &bigm, &aff, &o, "MSE affine auto jittered 71x67x59", NULL);
    }
    lncc_case(&bigf, &bigm, &aff, 2, NULL, NULL, "affine r2 71x67x59");
    printf("metric host checks, worst relative value / gradient (of its largest) differences: MSE and NCC %.3g / "
           "%.3g, MI %.3g / %.3g, LNCC %.3g / %.3g\n",
           met_worst_value, met_worst_grad, mi_worst_value, mi_worst_grad, lncc_worst_value, lncc_worst_grad);
    mv_free(&fix), mv_free(&mov), mv_free(&fmask), mv_free(&mmask);
    mv_free(&f2), mv_free(&m2), mv_free(&fm2), mv_free(&mm2), mv_free(&bigf), mv_free(&bigm);
}

/* ---- GRAPPA application ----
   Per case: k-space of a smooth phantom (coil-modulated blobs, centred FFT
   by medvol.h), undersampled with a lattice offset and a fully sampled
   centre, calibrated by mv_grappa_calibrate. Checked:
   - w(x): mv__cu_gr_taps + mv__cu_gr_wx (the wx kernel's element function)
     for every column of every set against mv_grappa_column_weights (the
     CPU's own product): the same bytes;
   - the whole application with the kernels' element functions in their
     order (scan, offset and classes, padding, unmixing, result), a float64
     DFT standing in for cuFFT, against mv_grappa_apply_into: acquired and
     zero lines the same bytes, predicted samples within the header's
     tolerance (1e-4 max |cpu|, relative RMS 1e-5). */

/* in place: rows of n complex, float64 DFT (sign -1 forward, +1 inverse), unnormalised, rounded once */
static void gr_dft_rows(float2 *h, int64_t rows, int64_t n, double sg)
{
    double *cs = (double *)malloc(sizeof(double) * 2 * n);
    float2 *t = (float2 *)malloc(sizeof(float2) * n);
    for (int64_t j = 0; j < n; j++) {
        cs[2 * j] = cos(2 * PI * (double)j / (double)n);
        cs[2 * j + 1] = sg * sin(2 * PI * (double)j / (double)n);
    }
    for (int64_t r = 0; r < rows; r++) {
        float2 *row = h + r * n;
        for (int64_t k = 0; k < n; k++) {
            double re = 0, im = 0;
            for (int64_t j = 0; j < n; j++) {
                const double c = cs[2 * ((j * k) % n)], s = cs[2 * ((j * k) % n) + 1];
                re += row[j].x * c - row[j].y * s;
                im += row[j].x * s + row[j].y * c;
            }
            t[k] = make_float2((float)re, (float)im);
        }
        memcpy(row, t, sizeof(float2) * n);
    }
    free(cs);
    free(t);
}

/* the device's passes on the host for one item (see mv__cu_gr_item) */
static void gr_emulate_item(const mv__cu_gr &g, const float2 *w, const float2 *taps, const float2 *kin, float2 *kout)
{
    unsigned char *cls = (unsigned char *)calloc((size_t)g.lines, 1);
    float2 *h = (float2 *)malloc(sizeof(float2) * g.lines * g.nc * g.nxp);
    float2 *wx = (float2 *)malloc(sizeof(float2) * g.nsy * g.nt * g.nxp);
    unsigned long long cnt[MV__CU_GR_MAXR];
    int64_t off[2];
    memset(cnt, 0, sizeof(cnt));
    for (int64_t c = 0; c < g.nc; c++) /* scan */
        for (int64_t l = 0; l < g.lines; l++)
            for (int64_t x = 0; x < g.nx; x++) {
                const float2 v = kin[c * g.cstride + l * g.nx + x];
                if (v.x != 0 || v.y != 0) cls[l] = 1;
            }
    for (int64_t l = 0; l < g.lines; l++) /* classify */
        if (cls[l]) cnt[((l / g.ny) % g.Rz) * g.Ry + (l % g.ny) % g.Ry]++;
    mv__cu_gr_offset(cnt, g.Ry, g.Rz, off);
    for (int64_t l = 0; l < g.lines; l++) cls[l] = mv__cu_gr_class(cls[l] != 0, mv__cu_gr_position(g, off, l));
    for (int64_t i = 0; i < g.nsy * g.nt * g.nxp; i++) { /* w(x) */
        const int64_t x = i % g.nxp, st = i / g.nxp;
        wx[i] = mv__cu_gr_wx(w, taps + x * g.kx, g.kx, g.nc, g.nt, st / g.nt, st % g.nt);
    }
    for (int64_t i = 0; i < g.lines * g.nc * g.nxp; i++) { /* pack */
        const int64_t x = i % g.nxp, lc = i / g.nxp;
        h[i] = mv__cu_gr_padded(g, kin, cls[lc / g.nc], lc / g.nc, lc % g.nc, x);
    }
    gr_dft_rows(h, g.lines * g.nc, g.nxp, +1);
    for (int64_t i = 0; i < g.lines * g.nc * g.nxp; i++) { /* fill */
        const int64_t x = i % g.nxp, lt = i / g.nxp;
        if (cls[lt / g.nc] == MV__CU_GR_PRED) h[i] = mv__cu_gr_predict(g, off, h, wx, lt / g.nc, lt % g.nc, x);
    }
    gr_dft_rows(h, g.lines * g.nc, g.nxp, -1);
    for (int64_t c = 0; c < g.nc; c++) /* result */
        for (int64_t l = 0; l < g.lines; l++)
            for (int64_t x = 0; x < g.nx; x++) {
                const int64_t k = c * g.cstride + l * g.nx + x;
                kout[k] = mv__cu_gr_result(cls[l], kin[k], h[(l * g.nc + c) * g.nxp + g.pad + x], (float)(1.0 / (double)g.nxp));
            }
    free(cls);
    free(h);
    free(wx);
}

static void gr_case(int64_t nx, int64_t ny, int64_t nz, int64_t nc, int64_t nb, int three_d, int Ry, int Rz, int oy,
                    int oz, const int kernel[3], const char *what)
{
    mv_vol k, cpu;
    mv_grappa_calib *cal = NULL;
    mv_grappa_opts o;
    mv__cu_gr g;
    int64_t nsets = 0, ns, nt;
    int td = 0;
    const float *w0;
    memset(&o, 0, sizeof(o));
    o.three_d = three_d;
    o.accel[1] = Ry;
    o.accel[2] = three_d ? Rz : 0;
    for (int a = 0; a < 3; a++) o.kernel[a] = kernel[a];
    cuda_test_grappa_phantom(nx, ny, nz, nc, nb, three_d, 0, NULL, &k);
    cuda_test_undersample(&k, Ry, oy, 12, three_d ? Rz : 1, three_d ? oz : 0, 8);
    checks++;
    mv_vol_init(&cpu);
    if (mv_grappa_calibrate(&k, &cal, &o) != MV_OK || mv_grappa_apply(cal, &k, &cpu, &o) != MV_OK) {
        printf("FAIL %s: CPU GRAPPA: %s\n", what, mv_last_error());
        fails++;
        return;
    }
    /* the geometry as mv__cu_gr_setup makes it */
    {
        int accel[3], kern[3], ncoil;
        int64_t dims[3], nxp;
        mv_grappa_info(cal, accel, kern, NULL, &ncoil);
        mv_grappa_layout(cal, dims, &td, &nsets, &nxp);
        mv_grappa_weights(cal, 0, &w0, &ns, &nt);
        memset(&g, 0, sizeof(g));
        g.nx = dims[0], g.ny = dims[1], g.nzl = td ? dims[2] : 1, g.nc = ncoil, g.lines = g.ny * g.nzl;
        g.nxp = nxp, g.pad = nxp / 2 - dims[0] / 2, g.cstride = dims[0] * dims[1] * dims[2];
        g.kx = kern[0], g.ky = kern[1], g.kz = td ? kern[2] : 1, g.Ry = accel[1], g.Rz = td ? accel[2] : 1;
        g.nt = nt, g.nsy = ns / kern[0];
    }
    float2 *taps = (float2 *)malloc(sizeof(float2) * g.nxp * g.kx);
    float *wcpu = (float *)malloc(sizeof(float) * 2 * g.nsy * g.nt);
    float2 *wdev = (float2 *)malloc(sizeof(float2) * g.nsy * g.nt);
    mv__cu_gr_taps(g.nxp, g.kx, taps);
    /* w(x), every column of every set, bit for bit */
    int wbad = 0;
    for (int64_t set = 0; set < nsets; set++)
        for (int64_t xc = 0; xc < g.nxp; xc++) {
            const int64_t hx = (xc + g.nxp / 2) % g.nxp; /* h's column holding centred column xc */
            if (mv_grappa_column_weights(cal, set, xc, wcpu) != MV_OK) wbad++;
            for (int64_t s = 0; s < g.nsy; s++)
                for (int64_t t = 0; t < g.nt; t++)
                    wdev[s * g.nt + t] = mv__cu_gr_wx((const float2 *)w0 + set * ns * nt, taps + hx * g.kx, g.kx, g.nc, g.nt, s, t);
            if (memcmp(wdev, wcpu, sizeof(float2) * g.nsy * g.nt)) wbad++;
        }
    checks++;
    if (wbad) {
        printf("FAIL %s: w(x) differs from mv_grappa_column_weights in %d columns\n", what, wbad);
        fails++;
    }
    /* the application, item by item as mv_cuda_grappa_apply_into walks them */
    float2 *emu = (float2 *)malloc(mv_vol_bytes(&k));
    const int64_t nitems = (td ? 1 : nz) * nb;
    for (int64_t item = 0; item < nitems; item++) {
        const int64_t b = item / (td ? 1 : nz), set = td ? 0 : item % nz;
        const int64_t base = b * g.cstride * g.nc + set * g.nx * g.ny;
        gr_emulate_item(g, (const float2 *)w0 + set * ns * nt, taps, (const float2 *)k.data + base, emu + base);
    }
    {
        const float2 *ref = (const float2 *)cpu.data, *in = (const float2 *)k.data;
        double peak = 0, e2 = 0, r2 = 0, emax = 0;
        int64_t nbad_copy = 0, npred = 0, n = mv_vol_count(&k);
        for (int64_t i = 0; i < n; i++) {
            if (in[i].x != 0 || in[i].y != 0) { /* a sample the data had: copied, the same bytes */
                nbad_copy += memcmp(&emu[i], &ref[i], sizeof(float2)) != 0;
                continue;
            }
            const double dx = (double)emu[i].x - ref[i].x, dy = (double)emu[i].y - ref[i].y; /* predicted (or zero) */
            e2 += dx * dx + dy * dy;
            emax = fmax(emax, sqrt(dx * dx + dy * dy));
            peak = fmax(peak, hypot(ref[i].x, ref[i].y));
            r2 += (double)ref[i].x * ref[i].x + (double)ref[i].y * ref[i].y;
            npred++;
        }
        checks++;
        double rel_rms = r2 > 0 ? sqrt(e2 / r2) : 0;
        if (nbad_copy || emax > 1e-4 * peak || rel_rms > 1e-5 || npred == 0) {
            printf("FAIL %s: %lld acquired samples differ; predicted %lld: max err %.3g (peak %.3g), rel RMS %.3g\n", what,
                   (long long)nbad_copy, (long long)npred, emax, peak, rel_rms);
            fails++;
        } else {
            printf("  %s: %lld predicted samples, max err %.2e of peak, rel RMS %.2e\n", what, (long long)npred,
                   peak > 0 ? emax / peak : 0, rel_rms);
        }
    }
    free(emu);
    free(taps);
    free(wcpu);
    free(wdev);
    mv_grappa_free(cal);
    mv_free(&cpu);
    mv_free(&k);
}

static void check_grappa(void)
{
    const int k54[3] = {0, 0, 0}, k32[3] = {3, 2, 0}, k322[3] = {3, 2, 2};
    gr_case(40, 48, 2, 4, 2, 0, 2, 1, 1, 0, k54, "grappa 2D 40x48, 2 slices x 2 volumes, 4 coils, R=2, offset 1");
    gr_case(37, 45, 1, 3, 1, 0, 3, 1, 0, 0, k32, "grappa 2D 37x45 (odd), 3 coils, R=3, kernel 3x2");
    gr_case(24, 20, 16, 3, 1, 1, 2, 2, 1, 0, k322, "grappa 3D 24x20x16, 3 coils, R=2x2, kernel 3x2x2");
}

/* ---- Cartesian CG-SENSE ----
   Per case: k-space of a smooth object times smooth coil maps (centred FFT
   by medvol.h), undersampled by lines (a mask constant along x: the normal
   operator's y/z layout) or by points (the full layout). Checked, with the
   kernels' element functions in their order and a float64 DFT standing in
   for cuFFT (rounded to float32 once per transform, as an FFT returns
   float32):
   - the dot product's fixed order (mv__cu_cg_dot_lane, _tree_add,
     _merge_lane, _dot_value, replayed as the two kernels run them) against
     a plain float64 sum: 1e-12 relative;
   - b = A^H y (mask, pack, index map, inverse DFT, reduce with the ortho
     scale) against mv_cgsense_adjoint: relative RMS <= 1e-6;
   - one normal-operator application on b (expand, forward, mask pass,
     inverse, reduce with lambda p) against medvol.h's adjoint of
     mask fftc(S_c b) plus (float)lambda b: relative RMS <= 1e-6;
   - the whole solve (mv__cu_cg_item's loop: alpha on the "device", beta on
     the "host") against mv_cgsense_into: the same iteration count, image
     relative RMS <= 1e-5 (measured: 1e-6 .. 2.5e-6), and <= 5e-4 for an
     unregularised ill-conditioned solve of 30 iterations (measured 5.6e-5:
     two float32 CG runs drift apart with the iterations);
   - two ESPIRiT maps (sens (x, y, z, C, 2) of cuda_test_add_map): the same
     three checks, the normal operator's reference mixing sum_m S_cm b_m in
     float64, the solve per item over both maps (in the CPU's out at ((b M
     + m) nz + z)) within 2e-5. */

/* the float64 stand-in for cuFFT on the buffer layout d: per batch, a
   separable DFT in float64 over the transformed axes, rounded once;
   sign -1 forward, +1 inverse, unnormalised */
static void cg_dft(float2 *buf, const mv__cu_cg_fftd &d, double sg)
{
    if (d.rank == 0) return;
    double *v = (double *)malloc(sizeof(double) * 2 * d.N), *t = (double *)malloc(sizeof(double) * 2 * d.N);
    for (long long bi = 0; bi < d.batch; bi++) {
        for (int64_t j = 0; j < d.N; j++) {
            const float2 e = buf[bi * d.dist + j * d.stride];
            v[2 * j] = e.x, v[2 * j + 1] = e.y;
        }
        int64_t inner = 1;
        for (int a = 0; a < d.rank; a++) {
            const int64_t len = d.n[a], outer = d.N / (inner * len);
            for (int64_t o = 0; o < outer; o++)
                for (int64_t in = 0; in < inner; in++) {
                    const int64_t base = o * len * inner + in;
                    for (int64_t k = 0; k < len; k++) {
                        double re = 0, im = 0;
                        for (int64_t i = 0; i < len; i++) {
                            const double ang = sg * 2.0 * PI * (double)((i * k) % len) / (double)len, c = cos(ang), s = sin(ang);
                            const double xr = v[2 * (base + i * inner)], xi = v[2 * (base + i * inner) + 1];
                            re += xr * c - xi * s;
                            im += xr * s + xi * c;
                        }
                        t[2 * (base + k * inner)] = re, t[2 * (base + k * inner) + 1] = im;
                    }
                }
            memcpy(v, t, sizeof(double) * 2 * d.N);
            inner *= len;
        }
        for (int64_t j = 0; j < d.N; j++) buf[bi * d.dist + j * d.stride] = make_float2((float)v[2 * j], (float)v[2 * j + 1]);
    }
    free(v);
    free(t);
}

/* the two dot-product kernels, replayed: chunks in blocks of LANES lanes,
   each block's tree, then the merge block's lanes and tree */
static double cg_dot(const float2 *a, const float2 *b, int64_t n)
{
    const int64_t chunks = (n + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK;
    double2 *part = (double2 *)malloc(sizeof(double2) * chunks), sh[MV__CU_CG_LANES];
    for (int64_t ch = 0; ch < chunks; ch++) {
        for (int t = 0; t < MV__CU_CG_LANES; t++) sh[t] = mv__cu_cg_dot_lane(a, b, n, ch, t);
        for (int w = MV__CU_CG_LANES / 2; w > 0; w >>= 1)
            for (int t = 0; t < w; t++) mv__cu_cg_tree_add(sh, t, w);
        part[ch] = sh[0];
    }
    for (int t = 0; t < MV__CU_CG_LANES; t++) sh[t] = mv__cu_cg_merge_lane(part, chunks, t);
    for (int w = MV__CU_CG_LANES / 2; w > 0; w >>= 1)
        for (int t = 0; t < w; t++) mv__cu_cg_tree_add(sh, t, w);
    free(part);
    return mv__cu_cg_dot_value(sh[0]);
}

/* host state of one emulated call: the geometry, buffers and FFT layouts as mv_cuda_cgsense_into makes them */
struct cg_emu {
    mv__cu_cg g;
    mv__cu_cg_fftd fd[2];
    float2 *buf, *r, *p, *ap;
    unsigned char *mask;
};

static void cg_emu_init(cg_emu *e, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int slices, int64_t nmaps)
{
    memset(e, 0, sizeof(*e));
    e->g.n[0] = nx, e->g.n[1] = ny, e->g.n[2] = slices ? 1 : nz;
    e->g.nvox = e->g.n[0] * e->g.n[1] * e->g.n[2];
    e->g.nc = nc;
    e->g.kstride = e->g.sstride = nx * ny * nz;
    e->g.nmaps = nmaps, e->g.mstride = nx * ny * nz * nc;
    mv__cu_cg_fft_desc(e->g, 0, &e->fd[0]);
    mv__cu_cg_fft_desc(e->g, 1, &e->fd[1]);
    const size_t nimg = (size_t)(nmaps * e->g.nvox);
    e->buf = (float2 *)calloc((size_t)(nc * e->g.nvox), sizeof(float2));
    e->r = (float2 *)calloc(nimg, sizeof(float2));
    e->p = (float2 *)calloc(nimg, sizeof(float2));
    e->ap = (float2 *)calloc(nimg, sizeof(float2));
    e->mask = (unsigned char *)calloc((size_t)e->g.nvox, 1);
}

static void cg_emu_free(cg_emu *e)
{
    free(e->buf), free(e->r), free(e->p), free(e->ap), free(e->mask);
}

/* the mask, the y/z decision and b = A^H y into e->r (mv__cu_cg_item's first half); returns the layout of the normal operator */
static int cg_emu_adjoint(cg_emu *e, const float2 *k, const float2 *sens)
{
    mv__cu_cg g = e->g;
    int notsep = 0;
    mv__cu_cg_layout(&g, 0);
    for (int64_t i = 0; i < g.nvox; i++) e->mask[i] = mv__cu_cg_sampled(k, g.kstride, g.nc, i);
    for (int64_t i = 0; i < g.nvox; i++)
        if (e->mask[i] != e->mask[i - i % g.n[0]]) notsep = 1;
    for (int64_t j = 0; j < g.nc * g.nvox; j++)
        e->buf[mv__cu_cg_index(g, j / g.nvox, j % g.nvox)] = mv__cu_cg_pack(k[(j / g.nvox) * g.kstride + j % g.nvox], e->mask[j % g.nvox]);
    cg_dft(e->buf, e->fd[0], +1);
    for (int64_t j = 0; j < g.nmaps * g.nvox; j++) /* map j / nvox (mv__cu_cg_reduce_kernel) */
        e->r[j] = mv__cu_cg_reduce(g, e->buf, sens + j / g.nvox * g.mstride, j % g.nvox,
                                   (float)(1.0 / sqrt((double)e->fd[0].N)), 0, 0.0f, make_float2(0, 0));
    return !notsep && e->fd[1].rank > 0;
}

/* y = A^H A p + lambda p in layout yz (mv__cu_cg_normal) */
static void cg_emu_normal(cg_emu *e, int yz, const float2 *sens, const float2 *p, float2 *y, int lam_on, float lam)
{
    mv__cu_cg g = e->g;
    mv__cu_cg_layout(&g, yz);
    const float scale = (float)(1.0 / (double)e->fd[yz].N);
    for (int64_t j = 0; j < g.nc * g.nvox; j++)
        e->buf[mv__cu_cg_index(g, j / g.nvox, j % g.nvox)] =
            mv__cu_cg_mix(p, sens + (j / g.nvox) * g.sstride, g.nvox, g.nmaps, g.mstride, j % g.nvox);
    cg_dft(e->buf, e->fd[yz], -1);
    for (int64_t j = 0; j < g.nc * g.nvox; j++) {
        const int64_t bi = mv__cu_cg_index(g, j / g.nvox, j % g.nvox);
        e->buf[bi] = mv__cu_cg_masked(e->buf[bi], e->mask[j % g.nvox], scale);
    }
    cg_dft(e->buf, e->fd[yz], +1);
    for (int64_t j = 0; j < g.nmaps * g.nvox; j++)
        y[j] = mv__cu_cg_reduce(g, e->buf, sens + j / g.nvox * g.mstride, j % g.nvox, 1.0f, lam_on, lam, p[j]);
}

/* the whole solve of one item (mv__cu_cg_item), x written */
static int cg_emu_item(cg_emu *e, const float2 *k, const float2 *sens, float2 *x, const mv_cg_opts *o)
{
    const int64_t n = e->g.nmaps * e->g.nvox;
    const int maxit = o->iterations ? o->iterations : 30, lam_on = o->lambda != 0;
    int iters = 0;
    const int yz = cg_emu_adjoint(e, k, sens);
    memset(x, 0, sizeof(float2) * n);
    memcpy(e->p, e->r, sizeof(float2) * n);
    double rsold = cg_dot(e->r, e->r, n), bb = rsold, rsnew = rsold, eps2 = o->tolerance * o->tolerance * bb;
    for (int it = 0; it < maxit && rsold > 0; it++) {
        cg_emu_normal(e, yz, sens, e->p, e->ap, lam_on, (float)o->lambda);
        const double pap = cg_dot(e->p, e->ap, n);
        if (pap != 0) {
            const float a = mv__cu_cg_alpha(rsold, pap);
            for (int64_t i = 0; i < n; i++) mv__cu_cg_step(x[i], e->r[i], e->p[i], e->ap[i], a);
        }
        const double rs = cg_dot(e->r, e->r, n);
        if (pap == 0) break;
        rsnew = rs;
        const double beta = rsnew / rsold;
        rsold = rsnew;
        iters = it + 1;
        if (rsnew <= eps2) break;
        for (int64_t i = 0; i < n; i++) e->p[i] = mv__cu_cg_dir(e->p[i], e->r[i], (float)beta);
    }
    return iters;
}

static double cg_rel_rms(const float2 *a, const float2 *ref, int64_t n)
{
    double e2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        const double dx = (double)a[i].x - ref[i].x, dy = (double)a[i].y - ref[i].y;
        e2 += dx * dx + dy * dy;
        r2 += (double)ref[i].x * ref[i].x + (double)ref[i].y * ref[i].y;
    }
    return r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
}

/* the random draws of cg_data: an xorshift restarted at every call, so
   each case sees the same sampling pattern */
static uint64_t cg_rng_state;
static uint64_t cg_rng(void)
{
    cg_rng_state ^= cg_rng_state << 13, cg_rng_state ^= cg_rng_state >> 7, cg_rng_state ^= cg_rng_state << 17;
    return cg_rng_state >> 11;
}
static void cg_data(int64_t nx, int64_t ny, int64_t nz, int64_t nc, int64_t nb, int slices, int lines, mv_vol *k, mv_vol *sens)
{
    cg_rng_state = 0x9E3779B97F4A7C15ull;
    cuda_test_cg_data(nx, ny, nz, nc, nb, slices, lines, 0, NULL, cg_rng, k, sens);
}

static void cg_case(int64_t nx, int64_t ny, int64_t nz, int64_t nc, int64_t nb, int slices, int lines, double lambda,
                    int iterations, double tolerance, double bound, int64_t nmaps, const char *what)
{
    mv_vol k, sens, cpu;
    mv_cg_opts o;
    cg_emu e;
    memset(&o, 0, sizeof(o));
    o.lambda = lambda, o.iterations = iterations, o.tolerance = tolerance, o.slices = slices, o.threads = 1;
    cg_data(nx, ny, nz, nc, nb, slices, lines, &k, &sens);
    if (nmaps > 1) cuda_test_add_map(&sens);
    cg_emu_init(&e, nx, ny, nz, nc, slices, nmaps);
    const int64_t n = e.g.nvox, nimg = nmaps * n, nitems = slices ? nz * nb : nb, nzw = slices ? nz : 1;
    const float2 *kd = (const float2 *)k.data, *sd = (const float2 *)sens.data;
    double worst_b = 0, worst_n = 0, worst_x = 0;
    int iters_bad = 0, any_yz = 0, cpu_iters = 0, emu_iters = 0;
    /* CPU: the adjoint of each item and the whole solve */
    mv_cgsense_plan *pl = NULL;
    {
        mv_cg_opts po = o;
        if (mv_cgsense_plan_make(&pl, &sens, NULL, &po) != MV_OK) {
            printf("FAIL %s: plan: %s\n", what, mv_last_error());
            fails++;
            return;
        }
    }
    mv_vol_init(&cpu);
    checks++;
    if (mv_cgsense(&k, &sens, &cpu, &o) != MV_OK) {
        printf("FAIL %s: mv_cgsense: %s\n", what, mv_last_error());
        fails++;
        return;
    }
    cpu_iters = o.iterations_done;
    float2 *item_k = (float2 *)malloc(sizeof(float2) * n * nc), *ref = (float2 *)malloc(sizeof(float2) * nimg);
    float2 *x = (float2 *)malloc(sizeof(float2) * nimg), *ax = (float2 *)malloc(sizeof(float2) * nimg);
    float2 *cx = (float2 *)malloc(sizeof(float2) * nimg);
    mv_vol tmp;
    mv_vol_init(&tmp);
    for (int64_t item = 0; item < nitems; item++) {
        const int64_t bv = slices ? item / nz : item, z = slices ? item % nz : 0;
        const float2 *k0 = kd + (bv * nc * nz + z) * nx * ny, *s0 = sd + z * nx * ny;
        /* b = A^H y */
        for (int64_t c = 0; c < nc; c++) memcpy(item_k + c * n, k0 + c * e.g.kstride, sizeof(float2) * n);
        if (mv_cgsense_adjoint(pl, item, item_k, ref) != MV_OK) { printf("FAIL %s: adjoint: %s\n", what, mv_last_error()); fails++; break; }
        const int yz = cg_emu_adjoint(&e, k0, s0);
        any_yz |= yz;
        worst_b = fmax(worst_b, cg_rel_rms(e.r, ref, nimg));
        /* one normal operator on b: the CPU's as its adjoint of mask fftc(sum_m S_cm b_m), plus (float)lambda b */
        memcpy(x, e.r, sizeof(float2) * nimg);
        cg_emu_normal(&e, yz, s0, x, ax, lambda != 0, (float)lambda);
        {
            const int64_t d3[4] = {nx, ny, slices ? 1 : nz, nc};
            mv_vol sx, fx;
            mv_vol_init(&sx);
            mv_vol_init(&fx);
            if (mv_vol_alloc(&sx, MV_DT_C64, 4, d3, NULL) != MV_OK) exit(1);
            float2 *sxd = (float2 *)sx.data;
            for (int64_t c = 0; c < nc; c++)
                for (int64_t i = 0; i < n; i++) { /* in float64, rounded once */
                    double re = 0, im = 0;
                    for (int64_t m = 0; m < nmaps; m++) {
                        const float2 sv = s0[m * e.g.mstride + c * e.g.sstride + i], xv = x[m * n + i];
                        re += (double)sv.x * xv.x - (double)sv.y * xv.y;
                        im += (double)sv.x * xv.y + (double)sv.y * xv.x;
                    }
                    sxd[c * n + i] = make_float2((float)re, (float)im);
                }
            if (mv_fftc(&sx, &fx, slices ? 3u : 7u, 0, NULL) != MV_OK) exit(1);
            float2 *fd = (float2 *)fx.data;
            for (int64_t c = 0; c < nc; c++)
                for (int64_t i = 0; i < n; i++)
                    if (!e.mask[i]) fd[c * n + i] = make_float2(0, 0);
            if (mv_cgsense_adjoint(pl, item, fd, ref) != MV_OK) exit(1);
            if (lambda != 0)
                for (int64_t i = 0; i < nimg; i++) ref[i] = make_float2(ref[i].x + (float)lambda * x[i].x, ref[i].y + (float)lambda * x[i].y);
            worst_n = fmax(worst_n, cg_rel_rms(ax, ref, nimg));
            mv_free(&sx);
            mv_free(&fx);
        }
        /* the whole solve */
        emu_iters += cg_emu_item(&e, k0, s0, x, &o);
        for (int64_t m = 0; m < nmaps; m++) /* the item's maps in the CPU's out (x, y, z, M, batch...) */
            memcpy(cx + m * n, (const float2 *)cpu.data + ((item / nzw * nmaps + m) * nzw + item % nzw) * n, sizeof(float2) * n);
        worst_x = fmax(worst_x, cg_rel_rms(x, cx, nimg));
    }
    iters_bad = emu_iters != cpu_iters;
    if (worst_b > 1e-6 || worst_n > 1e-6 || worst_x > bound || iters_bad || any_yz != lines) {
        printf("FAIL %s: A^H y rel RMS %.3g, normal op %.3g, solve %.3g (1e-6, 1e-6, %g); iterations %d, CPU %d; y/z layout %d (expected %d)\n",
               what, worst_b, worst_n, worst_x, bound, emu_iters, cpu_iters, any_yz, lines);
        fails++;
    } else {
        printf("  %s: A^H y rel RMS %.2e, normal op %.2e, solve %.2e after %d iterations (CPU %d)%s\n", what, worst_b,
               worst_n, worst_x, emu_iters, cpu_iters, any_yz ? ", y/z transforms" : "");
    }
    free(item_k), free(ref), free(x), free(ax), free(cx);
    cg_emu_free(&e);
    mv_cgsense_plan_free(pl);
    mv_free(&cpu);
    mv_free(&k);
    mv_free(&sens);
}

static void check_cg_dot(void)
{
    /* lengths around the chunk and lane sizes, values of mixed sign and scale */
    const int64_t lens[] = {1, 255, 256, 257, 4095, 4096, 4097, 3 * 4096 + 17, 300000};
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        const int64_t n = lens[li];
        float2 *a = (float2 *)malloc(sizeof(float2) * n), *b = (float2 *)malloc(sizeof(float2) * n);
        uint64_t rng = 0x2545F4914F6CDD1Dull + (uint64_t)n;
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            float v[4];
            for (int j = 0; j < 4; j++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                v[j] = (float)(((double)(rng >> 11) / 9007199254740992.0 - 0.5) * (1 + (i % 7) * 100));
            }
            a[i] = make_float2(v[0], v[1]), b[i] = make_float2(v[2], v[3]);
            ref += (double)v[0] * v[2] + (double)v[1] * v[3]; /* float64, sequential */
            mag += fabs((double)v[0] * v[2]) + fabs((double)v[1] * v[3]);
        }
        const double got = cg_dot(a, b, n), again = cg_dot(a, b, n);
        checks++;
        if (fabs(got - ref) > 1e-13 * mag || memcmp(&got, &again, sizeof(got))) {
            printf("FAIL cg dot n=%lld: %.17g against %.17g (sum |terms| %.3g)\n", (long long)n, got, ref, mag);
            fails++;
        }
        free(a);
        free(b);
    }
    printf("  cg dot products: fixed chunk / lane / tree order within 1e-13 of a sequential float64 sum (9 lengths)\n");
}

static void check_cgsense(void)
{
    check_cg_dot();
    cg_case(21, 19, 3, 4, 2, 1, 1, 0.0, 12, 0.0, 1e-5, 1, "cgsense 2D 21x19 (odd), 3 slices x 2 volumes, 4 coils, lines, 12 iterations");
    cg_case(20, 17, 2, 3, 1, 1, 0, 0.01, 30, 1e-3, 1e-5, 1, "cgsense 2D 20x17, 2 slices, 3 coils, points, lambda 0.01, tolerance 1e-3");
    cg_case(11, 10, 9, 3, 1, 0, 1, 0.0, 10, 0.0, 1e-5, 1, "cgsense 3D 11x10x9 (odd), 3 coils, lines, 10 iterations");
    cg_case(9, 8, 7, 2, 1, 0, 0, 0.05, 20, 1e-4, 1e-5, 1, "cgsense 3D 9x8x7 (odd), 2 coils, points, lambda 0.05, tolerance 1e-4");
    cg_case(64, 64, 1, 8, 1, 1, 1, 0.001, 30, 1e-5, 1e-5, 1, "cgsense 2D 64x64, 8 coils, lines, lambda 0.001, tolerance 1e-5");
    /* unregularised and ill-conditioned (R = 2 x 2 in 3D), run for 30
       iterations: two float32 CG runs drift apart as the iterations go on
       (5.6e-5 here with a float64 DFT in cuFFT's place): the looser bound
       medvol_cuda.h states for such solves */
    cg_case(15, 14, 13, 4, 1, 0, 1, 0.0, 30, 0.0, 5e-4, 1, "cgsense 3D 15x14x13 (odd), 4 coils, lines, lambda 0, 30 iterations");
    /* two ESPIRiT maps (cuda_test_add_map): the mixing and per-map sums;
       the solve compared per item over both maps (2e-5: twice the
       unknowns of the same samples part float32 CG runs a little faster) */
    cg_case(21, 19, 3, 4, 2, 1, 1, 0.01, 12, 0.0, 2e-5, 2, "cgsense 2D 21x19 (odd), 3 slices x 2 volumes, 4 coils, 2 maps, lines, lambda 0.01");
    cg_case(9, 8, 7, 3, 1, 0, 0, 0.05, 20, 1e-4, 2e-5, 2, "cgsense 3D 9x8x7 (odd), 3 coils, 2 maps, points, lambda 0.05, tolerance 1e-4");
}

/* ---- NUFFT: the device plan's tables and element functions on the host ---- */

/* float64 DFT along used axis u of a grid of cb coils (coil slowest),
   unscaled, sign -1 or +1: stands in for cuFFT */
static void nu_dft_axis(std::vector<float2> &g, const mv__cu_nu_args &A, int64_t cb, int u, int sign)
{
    const int64_t n = A.n2[u], str = u == 0 ? 1 : u == 1 ? A.n2[0] : A.n2[0] * A.n2[1];
    const int64_t lines = A.ncell / n * cb;
    std::vector<double> cs(n), sn(n), re(n), im(n);
    for (int64_t k = 0; k < n; k++) {
        cs[k] = cos(2.0 * M_PI * (double)k / (double)n);
        sn[k] = sign * sin(2.0 * M_PI * (double)k / (double)n);
    }
    for (int64_t l = 0; l < lines; l++) {
        int64_t c = l / (A.ncell / n), r = l % (A.ncell / n), base = c * A.ncell + r % str + r / str * str * n;
        for (int64_t k = 0; k < n; k++) {
            double sr = 0, si = 0;
            for (int64_t j = 0; j < n; j++) {
                float2 v = g[base + j * str];
                int64_t e = j * k % n;
                sr += v.x * cs[e] - v.y * sn[e];
                si += v.x * sn[e] + v.y * cs[e];
            }
            re[k] = sr;
            im[k] = si;
        }
        for (int64_t k = 0; k < n; k++) g[base + k * str] = make_float2((float)re[k], (float)im[k]);
    }
}

/* the tile kernels' work on the host: every bin of every finite coil into
   its padded tile (2D: each cell's float sum; 3D: every term, checking
   that none lands outside the tile), then the tile into ig */
static double nu_tile_worst = 0; /* largest tiled-vs-gather difference seen */
static double nu_rel_l2(const float2 *a, const float2 *b, int64_t n);
struct nu_host_add {
    std::vector<unsigned long long> *t;
    int cells, bad;
    void operator()(int cell, unsigned long long re, unsigned long long im)
    {
        if (cell < 0 || cell >= cells) {
            bad++;
            return;
        }
        (*t)[cell] += re, (*t)[cells + cell] += im;
    }
};
static void nu_host_tiles(const mv__cu_nu_args &A, const float2 *vs, unsigned long long *ig, int64_t cb,
                          const unsigned *vbits)
{
    const int cells = A.P[0] * A.P[1] * A.P[2];
    std::vector<unsigned long long> tile(2 * cells);
    for (int64_t c = 0; c < cb; c++) {
        if (vbits[c] >= MV__CU_NU_NONFINITE) continue;
        const double scale = ldexp(1.0, mv__cu_nu_fix_exp(A.fixb, vbits[c]));
        for (int64_t b = 0; b < A.nbins; b++) {
            int64_t t0[3];
            nu_host_add add = {&tile, cells, 0};
            mv__cu_nu_tile_origin(A, b, t0);
            std::fill(tile.begin(), tile.end(), 0ull);
            if (A.d == 2) /* mv__cu_nu_tile2_kernel: a cell's float sum, then fixed point */
                for (int l = 0; l < cells; l++) {
                    const float2 sum = mv__cu_nu_tile_cell_sum(A, vs + c * A.M, A.binstart[b], A.binstart[b + 1], t0,
                                                               l % A.P[0], l / A.P[0]);
                    tile[l] = sum.x != 0.0f ? mv__cu_nu_fix(1.0f, sum.x, scale) : 0ull;
                    tile[cells + l] = sum.y != 0.0f ? mv__cu_nu_fix(1.0f, sum.y, scale) : 0ull;
                }
            else /* mv__cu_nu_tile_kernel: every term in fixed point */
                for (int64_t q = A.binstart[b]; q < A.binstart[b + 1]; q++)
                    mv__cu_nu_tile_point(A, q, vs[c * A.M + q], t0, scale, add);
            if (add.bad) {
                printf("FAIL tiles: bin %lld: %d terms outside the padded tile\n", (long long)b, add.bad);
                fails++;
            }
            for (int l = 0; l < 2 * cells; l++)
                if (tile[l]) ig[2 * (c * A.ncell + mv__cu_nu_tile_cell(A, t0, l % cells)) + l / cells] += tile[l];
        }
    }
}

/* The device plan's whole execution on the host: the tables and order
   exactly as mv_cuda_nufft_plan_create makes them, kernel values by
   mv__cu_nu_kernel, then every kernel's items through the kernel's own
   element functions, a float64 DFT for cuFFT. Also checks that the
   spread's items write every grid cell exactly once. */
static void nu_host_execute(const mv_nufft_plan *cpu, int adjoint, const float2 *in, float2 *out, int64_t nc,
                            int64_t coils, const char *what)
{
    mv_nufft_tables T;
    mv__cu_nu_args A;
    if (mv_nufft_get_tables(cpu, &T) || mv__cu_nu_geometry(&T, &A)) {
        printf("FAIL %s: tables: %s\n", what, mv_last_error());
        fails++;
        return;
    }
    const int d = A.d, w = A.w;
    std::vector<int64_t> perm(A.M), bin(A.nbins + 1);
    std::vector<int32_t> i0(A.M * d);
    std::vector<float> fr(A.M * d), kv(A.M * d * w);
    if (mv__cu_nu_order(&T, &A, perm.data(), i0.data(), fr.data(), bin.data())) {
        printf("FAIL %s: order\n", what);
        fails++;
        return;
    }
    mv__cu_nu_fix_bound(&A, bin.data());
    for (int64_t q = 0; q < A.M; q++)
        for (int u = 0; u < d; u++) mv__cu_nu_kernel(A.coef, A.deg, w, fr[q * d + u], i0[q * d + u], &kv[(q * d + u) * w]);
    A.perm = perm.data();
    A.i0 = i0.data();
    A.kv = kv.data();
    A.binstart = bin.data();
    for (int u = 0; u < d; u++) A.dec[u] = T.dec[u];
    std::vector<float2> grid(coils * A.ncell), vs(coils * A.M);
    std::vector<int> hits(coils * A.ncell);
    for (int64_t c0 = 0; c0 < nc; c0 += coils) {
        const int64_t cb = nc - c0 < coils ? nc - c0 : coils;
        if (adjoint) {
            std::vector<unsigned> vbits(cb, 0u);
            for (int64_t i = 0; i < cb * A.M; i++) {
                vs[i] = in[mv__cu_nu_koff(A, A.perm[i % A.M], c0 + i / A.M, nc)];
                vbits[i / A.M] = std::max(vbits[i / A.M], mv__cu_nu_abs_bits(vs[i]));
            }
            /* the gather (the spread of a non-finite coil) over every coil */
            std::fill(hits.begin(), hits.end(), 0);
            for (int64_t i = 0; i < cb * A.nbins * A.Bs[0] * A.Bs[1] * A.Bs[2]; i++) {
                int64_t x[3], cell, c;
                if (!mv__cu_nu_spread_item(A, i, x, &cell, &c)) continue;
                hits[c * A.ncell + cell]++;
                grid[c * A.ncell + cell] = mv__cu_nu_spread_cell(A, vs.data() + c * A.M, x);
            }
            for (int64_t i = 0; i < cb * A.ncell; i++)
                if (hits[i] != 1) {
                    printf("FAIL %s: spread wrote cell %lld %d times\n", what, (long long)i, hits[i]);
                    fails++;
                    return;
                }
            /* the tiles in fixed point, as the device's blocks (any order:
               integers), for the finite coils: their grid replaces the
               gather's, which it must match to float rounding */
            std::vector<unsigned long long> ig(2 * cb * A.ncell, 0ull);
            nu_host_tiles(A, vs.data(), ig.data(), cb, vbits.data());
            for (int64_t c = 0; c < cb; c++) {
                if (vbits[c] >= MV__CU_NU_NONFINITE) continue;
                const int e = mv__cu_nu_fix_exp(A.fixb, vbits[c]);
                std::vector<float2> tiled(A.ncell);
                for (int64_t i = 0; i < A.ncell; i++)
                    tiled[i] = mv__cu_nu_unfix(ig[2 * (c * A.ncell + i)], ig[2 * (c * A.ncell + i) + 1], e);
                const double dev = nu_rel_l2(tiled.data(), grid.data() + c * A.ncell, A.ncell);
                nu_tile_worst = std::max(nu_tile_worst, dev);
                if (!(dev <= 2e-6)) {
                    printf("FAIL %s: coil %lld: tiled spread vs gather relative l2 %.3g\n", what, (long long)c, dev);
                    fails++;
                }
                std::copy(tiled.begin(), tiled.end(), grid.begin() + c * A.ncell);
            }
            for (int u = 0; u < d; u++) nu_dft_axis(grid, A, cb, u, +1);
            for (int64_t i = 0; i < cb * A.nvox; i++) {
                int64_t cell, c = i / A.nvox;
                float f = mv__cu_nu_image_cell(A, i % A.nvox, &cell);
                float2 g = grid[c * A.ncell + cell];
                out[(c0 + c) * A.nvox + i % A.nvox] = make_float2(g.x * f, g.y * f);
            }
        } else {
            std::fill(grid.begin(), grid.end(), make_float2(0.0f, 0.0f));
            for (int64_t i = 0; i < cb * A.nvox; i++) {
                int64_t cell, c = i / A.nvox;
                float f = mv__cu_nu_image_cell(A, i % A.nvox, &cell);
                float2 v = in[(c0 + c) * A.nvox + i % A.nvox];
                grid[c * A.ncell + cell] = make_float2(v.x * f, v.y * f);
            }
            for (int u = 0; u < d; u++) nu_dft_axis(grid, A, cb, u, -1);
            for (int64_t i = 0; i < cb * A.M; i++)
                out[mv__cu_nu_koff(A, A.perm[i % A.M], c0 + i / A.M, nc)] =
                    mv__cu_nu_interp_point(A, grid.data() + (i / A.M) * A.ncell, i % A.M);
        }
    }
}

static double nu_rel_l2(const float2 *a, const float2 *b, int64_t n)
{
    double e = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        double dx = (double)a[i].x - b[i].x, dy = (double)a[i].y - b[i].y;
        e += dx * dx + dy * dy;
        r += (double)b[i].x * b[i].x + (double)b[i].y * b[i].y;
    }
    return sqrt(e / (r > 0 ? r : 1));
}

/* float64 NUDFT in medvol.h's conventions (>>api-nufft), block layout */
static double nu_phase(const int64_t N[3], const float *k, int64_t v)
{
    const int64_t x[3] = {v % N[0], v / N[0] % N[1], v / (N[0] * N[1])};
    double ph = 0;
    for (int a = 0; a < 3; a++)
        if (N[a] > 1) ph += 2.0 * M_PI * (double)k[a] * (double)(x[a] - N[a] / 2) / (double)N[a];
    return ph;
}
static void nu_nudft(const int64_t N[3], const float *coords, int64_t M, int64_t block, int adjoint, const float2 *in,
                     std::vector<float2> &out, int64_t nc)
{
    const int64_t nvox = N[0] * N[1] * N[2];
    const double s = 1.0 / sqrt((double)nvox);
    std::vector<double> acc(adjoint ? 2 * nvox * nc : 0, 0.0);
    out.assign(adjoint ? nvox * nc : M * nc, make_float2(0, 0));
    for (int64_t c = 0; c < nc; c++)
        for (int64_t m = 0; m < M; m++) {
            const int64_t ko = m % block + block * (c + nc * (m / block));
            double ar = 0, ai = 0;
            for (int64_t v = 0; v < nvox; v++) {
                const double ph = nu_phase(N, coords + 3 * m, v), cr = cos(ph), si = sin(ph);
                if (adjoint) { /* image(v) += y e^{+i ph} */
                    acc[2 * (c * nvox + v)] += in[ko].x * cr - in[ko].y * si;
                    acc[2 * (c * nvox + v) + 1] += in[ko].x * si + in[ko].y * cr;
                } else { /* y += f e^{-i ph} */
                    const float2 f = in[c * nvox + v];
                    ar += f.x * cr + f.y * si;
                    ai += f.y * cr - f.x * si;
                }
            }
            if (!adjoint) out[ko] = make_float2((float)(ar * s), (float)(ai * s));
        }
    for (int64_t i = 0; adjoint && i < nvox * nc; i++) out[i] = make_float2((float)(acc[2 * i] * s), (float)(acc[2 * i + 1] * s));
}

static void nu_case(int64_t nx, int64_t ny, int64_t nz, int64_t M, int64_t block, double tol, int64_t nc, int64_t coils,
                    const char *what)
{
    const int64_t N[3] = {nx, ny, nz}, nvox = nx * ny * nz;
    std::vector<float> coords(3 * M);
    for (int64_t m = 0; m < M; m++)
        for (int a = 0; a < 3; a++) {
            double r = (double)((m * 2654435761u + a * 40503u + 17u) % 100003u) / 100003.0; /* fixed, spread out */
            coords[3 * m + a] = N[a] > 1 ? (float)((r - 0.5) * (double)N[a]) : 0.0f;
        }
    if (M > 3) { /* a point on the grid's wrap, one outside [-N/2, N/2) (periodic) */
        coords[0] = -(float)(N[0] / 2);
        coords[3] = (float)N[0] * 0.75f;
    }
    mv_nufft_opts o;
    memset(&o, 0, sizeof(o));
    o.tol = tol;
    o.block = block;
    o.threads = 1;
    mv_nufft_plan *p = NULL;
    if (mv_nufft_plan_make(&p, N, coords.data(), M, &o) != MV_OK) {
        printf("FAIL %s: plan: %s\n", what, mv_last_error());
        fails++;
        return;
    }
    mv_nufft_tables T;
    mv_nufft_get_tables(p, &T);
    /* kernel values: the CPU plan's bits, and phi within the fit's bound */
    {
        int bad = 0, w = T.w;
        double maxe = 0;
        mv__cu_nu_args A;
        mv__cu_nu_geometry(&T, &A);
        for (int64_t q = 0; q < T.npoints; q++)
            for (int u = 0; u < T.d; u++) {
                float k[MV__CU_NU_MAXW];
                float s = T.fr[q * T.d + u];
                int32_t f = T.i0[q * T.d + u];
                mv__cu_nu_kernel(A.coef, A.deg, w, s, f, k);
                for (int t = 0; t < w; t++) {
                    double z = 2.0 * ((double)s + t - 0.5 * w) / w, r = 1.0 - z * z;
                    double phi = r <= 0 ? (r == 0 ? exp(-T.beta) : 0.0) : exp(T.beta * (sqrt(r) - 1.0));
                    if ((f + t) & 1) phi = -phi;
                    maxe = fmax(maxe, fabs(k[t] - phi));
                    if (T.kv && memcmp(&k[t], &T.kv[(q * T.d + u) * w + t], 4) != 0) bad++;
                }
            }
        checks++;
        if (bad || maxe > 3e-7 || !T.kv) {
            printf("FAIL %s: kernel values: %d differ from the CPU plan's%s, max |k - phi| %.3g\n", what, bad,
                   T.kv ? "" : " (the plan has none)", maxe);
            fails++;
        }
    }
    std::vector<float2> img(nvox * nc), ks(M * nc), cpu, host, ref;
    for (int64_t i = 0; i < nvox * nc; i++)
        img[i] = make_float2((float)sin(0.37 * i + 0.1), (float)cos(0.91 * (double)(i * i % 97)));
    for (int64_t i = 0; i < M * nc; i++) ks[i] = make_float2((float)cos(0.53 * i), (float)sin(1.7 * i + 0.3));
    for (int adj = 0; adj <= 1; adj++) {
        const int64_t nout = adj ? nvox * nc : M * nc;
        const float2 *in = adj ? ks.data() : img.data();
        cpu.assign(nout, make_float2(0, 0));
        host.assign(nout, make_float2(0, 0));
        checks++;
        if (mv_nufft_execute(p, adj, in, cpu.data(), nc) != MV_OK) {
            printf("FAIL %s: mv_nufft_execute: %s\n", what, mv_last_error());
            fails++;
            continue;
        }
        nu_host_execute(p, adj, in, host.data(), nc, coils, what);
        nu_nudft(N, coords.data(), M, block ? block : M, adj, in, ref, nc);
        double ec = nu_rel_l2(host.data(), cpu.data(), nout), er = nu_rel_l2(host.data(), ref.data(), nout),
               ecr = nu_rel_l2(cpu.data(), ref.data(), nout);
        if (ec > 1e-5 || er > tol) {
            printf("FAIL %s %s: rel l2 vs CPU %.3g (<= 1e-5), vs NUDFT %.3g (<= tol %g; CPU's %.3g)\n", what,
                   adj ? "adjoint" : "forward", ec, er, tol, ecr);
            fails++;
        } else if (getenv("MV_VERBOSE"))
            printf("  %s %s: vs CPU %.3g, vs NUDFT %.3g (CPU's %.3g)\n", what, adj ? "adjoint" : "forward", ec, er, ecr);
    }
    mv_nufft_plan_free(p);
}

/* every point that reaches a cell is in the bins of the cell's tile */
static void nu_bins_cover(void)
{
    const int64_t sizes[] = {16, 20, 26, 30, 36, 50};
    for (int64_t n2 : sizes)
        for (int w = 2; w <= MV__CU_NU_MAXW; w++) {
            if (n2 < 2 * w) continue;
            int bad = 0;
            checks++;
            for (int64_t x = 0; x < n2; x++) {
                int64_t bins[MV__CU_NU_NBL], t0 = x / MV__CU_NU_BIN * MV__CU_NU_BIN;
                int64_t tlen = n2 - t0 < MV__CU_NU_BIN ? n2 - t0 : MV__CU_NU_BIN;
                int nb = mv__cu_nu_axis_bins(t0, tlen, w, n2, MV__CU_NU_BIN, bins);
                for (int64_t i0 = 0; i0 < n2; i0++) {
                    int64_t t = (x - i0 + n2) % n2;
                    int found = 0;
                    for (int j = 0; j < nb; j++) found |= bins[j] == i0 / MV__CU_NU_BIN;
                    if (t < w && !found) bad++;
                }
                for (int j = 0; j < nb; j++)
                    for (int k = 0; k < j; k++) bad += bins[j] == bins[k];
            }
            if (bad) {
                printf("FAIL nufft bins: n2 %lld w %d: %d misses or repeats\n", (long long)n2, w, bad);
                fails++;
            }
        }
}

static void check_nufft(void)
{
    nu_bins_cover();
    nu_case(13, 10, 1, 150, 50, 1e-3, 3, 2, "nufft 2D 13x10 tol 1e-3, 3 coils in batches of 2");
    nu_case(9, 12, 1, 97, 0, 1e-6, 2, 8, "nufft 2D 9x12 tol 1e-6");
    nu_case(11, 1, 9, 80, 40, 1e-2, 2, 1, "nufft 2D x-z 11x1x9 tol 1e-2");
    nu_case(7, 6, 5, 120, 0, 1e-3, 2, 2, "nufft 3D 7x6x5 tol 1e-3");
    nu_case(5, 7, 9, 60, 30, 1e-5, 1, 4, "nufft 3D 5x7x9 tol 1e-5");
    nu_case(6, 5, 7, 90, 0, 1e-6, 2, 2, "nufft 3D 6x5x7 tol 1e-6 (the widest kernel: tiles in two passes on the device)");
    printf("nufft host checks: the tiled fixed-point spread vs the gather, worst relative l2 of a coil's grid %.2e\n",
           nu_tile_worst);
}

/* ---- non-Cartesian CG-SENSE: mv_cuda_cgsense_nc_into's steps on the host ---- */

/* One trajectory's emulated device operators, made from the CPU's objects
   with mv_cuda_cgsense_nc_into's own option and geometry functions; cb:
   the Toeplitz coil batch (0 = the device's choice). */
struct cgnc_emu {
    mv__cu_cgnc op;
    mv_nufft_plan *cpu;
    mv_nufft_toeplitz *toep;
    mv_nufft_toeplitz_kernel K;
    std::vector<float2> grid, buf, r, p, ap;
};

static int cgnc_emu_init(cgnc_emu *e, const mv_vol *traj, const int64_t dims[3], int64_t nc, int64_t sstride, int64_t cb,
                         const mv_cg_opts *o)
{
    const mv_nufft_opts no = mv__cu_cgnc_nufft_opts(o, nc);
    e->cpu = NULL;
    e->toep = NULL;
    memset(&e->op, 0, sizeof(e->op));
    for (int a = 0; a < 3; a++) e->op.g.n[a] = dims[a];
    e->op.g.nvox = dims[0] * dims[1] * dims[2];
    e->op.g.nc = nc;
    e->op.g.sstride = sstride;
    e->op.g.nmaps = 1, e->op.g.mstride = sstride * nc;
    if (mv_nufft_plan_traj(&e->cpu, dims, traj, &no) || mv_nufft_toeplitz_make(&e->toep, e->cpu, NULL, &no) ||
        mv_nufft_toeplitz_get_kernel(e->toep, &e->K) || mv__cu_cgnc_geometry(&e->op, e->K))
        return 0;
    if (cb) e->op.cb = cb;
    e->grid.assign(e->op.cb * e->op.t.ncell, make_float2(0, 0));
    e->buf.assign(nc * e->op.t.nvox, make_float2(0, 0));
    e->r.assign(e->op.t.nvox, make_float2(0, 0));
    e->p = e->ap = e->r;
    return 1;
}

static void cgnc_emu_free(cgnc_emu *e)
{
    mv_nufft_toeplitz_free(e->toep);
    mv_nufft_plan_free(e->cpu);
}

/* b = A^H y into e->r: the device NUFFT's adjoint (nu_host_execute), then mv__cu_cg_reduce */
static void cgnc_emu_adjoint(cgnc_emu *e, const float2 *k, const float2 *sens, const char *what)
{
    const mv__cu_cgnc &op = e->op;
    nu_host_execute(e->cpu, 1, k, e->buf.data(), op.g.nc, op.cb, what);
    for (int64_t i = 0; i < op.t.nvox; i++)
        e->r[i] = mv__cu_cg_reduce(op.g, e->buf.data(), sens, i, 1.0f, 0, 0.0f, make_float2(0, 0));
}

/* y = A^H A p + lambda p (mv__cu_cgnc_normal), a float64 DFT for cuFFT */
static void cgnc_emu_normal(cgnc_emu *e, const float2 *sens, const float2 *p, float2 *y, int lam_on, float lam)
{
    const mv__cu_cgnc &op = e->op;
    const mv__cu_tp &t = op.t;
    for (int64_t c0 = 0; c0 < op.g.nc; c0 += op.cb) {
        const int64_t cb = op.g.nc - c0 < op.cb ? op.g.nc - c0 : op.cb;
        mv__cu_cg_fftd d;
        mv__cu_tp_fft_desc(t, cb, &d);
        for (int64_t j = 0; j < cb * t.ncell; j++)
            e->grid[j] = mv__cu_tp_pad(t, p, sens + (c0 + j / t.ncell) * op.g.sstride, op.g.nmaps, op.g.mstride, j % t.ncell);
        cg_dft(e->grid.data(), d, -1);
        for (int64_t j = 0; j < cb * t.ncell; j++) e->grid[j] = mv__cu_tp_weight(e->grid[j], e->K.khat[j % t.ncell]);
        cg_dft(e->grid.data(), d, +1);
        for (int64_t j = 0; j < cb * t.nvox; j++)
            e->buf[c0 * t.nvox + j] = e->grid[j / t.nvox * t.ncell + mv__cu_tp_cell(t, j % t.nvox)];
    }
    for (int64_t i = 0; i < t.nvox; i++) y[i] = mv__cu_cg_reduce(op.g, e->buf.data(), sens, i, 1.0f, lam_on, lam, p[i]);
}

/* one frame's solve (mv__cu_cgnc_item: mv__cu_cg_start, mv__cu_cg_iterate) */
static int cgnc_emu_item(cgnc_emu *e, const float2 *k, const float2 *sens, float2 *x, const mv_cg_opts *o, const char *what)
{
    const int64_t n = e->op.t.nvox;
    const int maxit = o->iterations ? o->iterations : 30, lam_on = o->lambda != 0;
    float2 *r = e->r.data(), *p = e->p.data(), *ap = e->ap.data();
    int iters = 0;
    cgnc_emu_adjoint(e, k, sens, what);
    memset(x, 0, sizeof(float2) * n);
    memcpy(p, r, sizeof(float2) * n);
    double rsold = cg_dot(r, r, n), bb = rsold, eps2 = o->tolerance * o->tolerance * bb;
    for (int it = 0; it < maxit && rsold > 0; it++) {
        cgnc_emu_normal(e, sens, p, ap, lam_on, (float)o->lambda);
        const double pap = cg_dot(p, ap, n);
        if (pap != 0) {
            const float a = mv__cu_cg_alpha(rsold, pap);
            for (int64_t i = 0; i < n; i++) mv__cu_cg_step(x[i], r[i], p[i], ap[i], a);
        }
        const double rs = cg_dot(r, r, n);
        if (pap == 0) break;
        const double beta = rs / rsold;
        rsold = rs;
        iters = it + 1;
        if (rs <= eps2) break;
        for (int64_t i = 0; i < n; i++) p[i] = mv__cu_cg_dir(p[i], r[i], (float)beta);
    }
    return iters;
}

/* a radial trajectory (3, X, Y, 1, F): 2D (kz = 0) or a kooshball, frame f
   rotated by 0.37 f radians about z when per_frame, else F = 1 */
static void cgnc_traj(int64_t X, int64_t Y, int three_d, int64_t F, mv_vol *traj)
{
    mv_traj_opts to;
    mv_vol one;
    memset(&to, 0, sizeof(to));
    to.kooshball = three_d;
    mv_vol_init(&one);
    mv_vol_init(traj);
    const int64_t d[5] = {3, X, Y, 1, F};
    if (mv_traj_radial(&one, X, Y, &to) != MV_OK || mv_vol_alloc(traj, MV_DT_C64, F > 1 ? 5 : 3, d, NULL) != MV_OK) exit(1);
    const float2 *s = (const float2 *)one.data;
    float2 *t = (float2 *)traj->data;
    for (int64_t f = 0; f < F; f++)
        for (int64_t m = 0; m < X * Y; m++) {
            const double c = cos(0.37 * f), sn = sin(0.37 * f), kx = s[3 * m].x, ky = s[3 * m + 1].x;
            t[3 * (f * X * Y + m)] = make_float2((float)(c * kx - sn * ky), 0);
            t[3 * (f * X * Y + m) + 1] = make_float2((float)(sn * kx + c * ky), 0);
            t[3 * (f * X * Y + m) + 2] = make_float2(s[3 * m + 2].x, 0);
        }
    mv_free(&one);
}

/* maps (N0, N1, N2 or S slices, C) and k-space (1, X, Y, C, F) of a smooth
   object per frame, by a float64-accurate NUFFT (tol 1e-6) of each frame's
   trajectory; S > 0: 2D frames, frame f seen through slice f mod S */
static void cgnc_data(const int64_t N[3], int64_t nc, const mv_vol *traj, int64_t F, int64_t S, mv_vol *k, mv_vol *sens)
{
    const int64_t X = traj->dim[1], Y = traj->dim[2], nvox = N[0] * N[1] * N[2], per_frame = traj->ndim > 3;
    const int64_t nz = S ? S : 1, ds[4] = {N[0], N[1], S ? S : N[2], nc}, dk[5] = {1, X, Y, nc, F};
    mv_vol_init(k);
    mv_vol_init(sens);
    if (mv_vol_alloc(sens, MV_DT_C64, 4, ds, NULL) != MV_OK || mv_vol_alloc(k, MV_DT_C64, 5, dk, NULL) != MV_OK) exit(1);
    float2 *s = (float2 *)sens->data;
    std::vector<float2> img(nvox * nc);
    for (int64_t c = 0; c < nc; c++)
        for (int64_t z = 0; z < nz; z++)
            for (int64_t i = 0; i < nvox; i++) {
                const double u = (double)(i % N[0]) / N[0] - 0.5, v = (double)(i / N[0] % N[1]) / N[1] - 0.5,
                             w = N[2] > 1 ? (double)(i / (N[0] * N[1])) / N[2] - 0.5 : 0.2 * z;
                const double cu = cos(2 * PI * c / nc), cv = sin(2 * PI * c / nc);
                const double mag = 0.3 + exp(-((u - 0.5 * cu) * (u - 0.5 * cu) + (v - 0.5 * cv) * (v - 0.5 * cv) + w * w) * 2);
                const double ph = 0.9 * c + 1.5 * u * cv - 1.1 * v * cu + 0.7 * w;
                s[(c * nz + z) * nvox + i] = make_float2((float)(mag * cos(ph)), (float)(mag * sin(ph)));
            }
    for (int64_t f = 0; f < F; f++) {
        mv_nufft_opts no;
        mv_nufft_plan *pl = NULL;
        memset(&no, 0, sizeof(no));
        no.tol = 1e-6;
        mv_vol tv = mv__cu_traj_frame(traj, per_frame ? f : 0);
        if (mv_nufft_plan_traj(&pl, N, &tv, &no) != MV_OK) exit(1);
        for (int64_t c = 0; c < nc; c++)
            for (int64_t i = 0; i < nvox; i++) {
                const double u = (double)(i % N[0]) / N[0] - 0.5, v = (double)(i / N[0] % N[1]) / N[1] - 0.5,
                             w = N[2] > 1 ? (double)(i / (N[0] * N[1])) / N[2] - 0.5 : 0;
                const double obj = exp(-(u * u + v * v + w * w) * 6) * (1 + 0.4 * cos(9 * u + 0.5 * f)) + 0.3 * (u > 0.1 && v < 0);
                const float2 sv = s[(c * nz + f % nz) * nvox + i];
                img[c * nvox + i] = make_float2((float)(obj * sv.x), (float)(obj * sv.y));
            }
        if (mv_nufft_execute(pl, 0, img.data(), (float2 *)k->data + f * X * Y * nc, nc) != MV_OK) exit(1);
        mv_nufft_plan_free(pl);
    }
}

/* b, one normal operator and the whole solve of every frame against the
   CPU: mv_cgsense_adjoint, sum_c conj(S_c) mv_nufft_toeplitz_apply(S_c x)
   (+ lambda x) and mv_cgsense_nc_into */
static void cgnc_case(const int64_t N[3], int64_t X, int64_t Y, int three_d, int64_t nc, int64_t F, int per_frame,
                      int64_t S, int64_t cb, double lambda, int iterations, double tolerance, double bound, const char *what)
{
    mv_vol traj, k, sens, cpu;
    mv_cg_opts o;
    memset(&o, 0, sizeof(o));
    o.lambda = lambda, o.iterations = iterations, o.tolerance = tolerance, o.threads = 1, o.slices = S > 0;
    cgnc_traj(X, Y, three_d, per_frame ? F : 1, &traj);
    cgnc_data(N, nc, &traj, F, S, &k, &sens);
    const int64_t nvox = N[0] * N[1] * N[2], sstride = nvox * (S ? S : 1);
    const int64_t od[6] = {N[0], N[1], S ? S : N[2], S ? F / S : F};
    mv_vol_init(&cpu);
    checks++;
    if (mv_vol_alloc(&cpu, MV_DT_C64, 4, od, NULL) != MV_OK || mv_cgsense_nc_into(&traj, &k, &sens, &cpu, &o) != MV_OK) {
        printf("FAIL %s: mv_cgsense_nc_into: %s\n", what, mv_last_error());
        fails++;
        return;
    }
    const int cpu_iters = o.iterations_done;
    int emu_iters = 0, ok = 1;
    double worst_b = 0, worst_n = 0, worst_x = 0;
    std::vector<float2> ref(nvox), x(nvox), ax(nvox), sx(nvox), tx(nvox);
    cgnc_emu e;
    mv_cgsense_plan *pl = NULL;
    for (int64_t f = 0; f < F && ok; f++) {
        const mv_vol tv = mv__cu_traj_frame(&traj, per_frame ? f : 0);
        const float2 *kf = (const float2 *)k.data + f * X * Y * nc, *s = (const float2 *)sens.data + (S ? f % S : 0) * nvox;
        if (f == 0 || per_frame) {
            if (f) cgnc_emu_free(&e), mv_cgsense_plan_free(pl), pl = NULL;
            if (!cgnc_emu_init(&e, &tv, N, nc, sstride, cb, &o) || mv_cgsense_plan_make(&pl, &sens, &tv, &o) != MV_OK) {
                printf("FAIL %s: operators: %s\n", what, mv_last_error());
                fails++;
                ok = 0;
                break;
            }
        }
        /* b = A^H y */
        if (mv_cgsense_adjoint(pl, f, kf, ref.data()) != MV_OK) exit(1);
        cgnc_emu_adjoint(&e, kf, s, what);
        worst_b = fmax(worst_b, cg_rel_rms(e.r.data(), ref.data(), nvox));
        /* one normal operator on b, the CPU's by its public pieces */
        x.assign(e.r.begin(), e.r.end());
        cgnc_emu_normal(&e, s, x.data(), ax.data(), lambda != 0, (float)lambda);
        for (int64_t c = 0; c < nc; c++) {
            for (int64_t i = 0; i < nvox; i++) sx[i] = mv__cu_cg_cmul(x[i], s[c * sstride + i], 0);
            if (mv_nufft_toeplitz_apply(e.toep, sx.data(), tx.data(), 1) != MV_OK) exit(1);
            for (int64_t i = 0; i < nvox; i++) {
                const float2 v = mv__cu_cg_cmul(tx[i], s[c * sstride + i], 1);
                ref[i] = c == 0 ? v : make_float2(ref[i].x + v.x, ref[i].y + v.y);
            }
        }
        if (lambda != 0)
            for (int64_t i = 0; i < nvox; i++)
                ref[i] = make_float2(ref[i].x + (float)lambda * x[i].x, ref[i].y + (float)lambda * x[i].y);
        worst_n = fmax(worst_n, cg_rel_rms(ax.data(), ref.data(), nvox));
        /* the whole solve */
        emu_iters += cgnc_emu_item(&e, kf, s, x.data(), &o, what);
        worst_x = fmax(worst_x, cg_rel_rms(x.data(), (const float2 *)cpu.data + f * nvox, nvox));
    }
    if (ok) {
        cgnc_emu_free(&e);
        mv_cgsense_plan_free(pl);
        if (worst_b > 1e-5 || worst_n > 1e-5 || worst_x > bound || emu_iters != cpu_iters) {
            printf("FAIL %s: A^H y rel RMS %.3g, normal op %.3g (1e-5, 1e-5), solve %.3g (%g); iterations %d, CPU %d\n", what,
                   worst_b, worst_n, worst_x, bound, emu_iters, cpu_iters);
            fails++;
        } else {
            printf("  %s: A^H y rel RMS %.2e, normal op %.2e, solve %.2e after %d iterations (CPU %d)\n", what, worst_b,
                   worst_n, worst_x, emu_iters, cpu_iters);
        }
    }
    mv_free(&traj), mv_free(&k), mv_free(&sens), mv_free(&cpu);
}

/* bad arguments: a status and a message naming the argument, before any
   device work (no GPU needed: every check precedes the first CUDA call) */
static void cgnc_bad_args(void)
{
    mv_vol traj;
    mv_cuda_vol k, s, out;
    const int64_t dt[3] = {3, 8, 5}, dk[4] = {1, 8, 5, 2}, ds[4] = {8, 8, 1, 2}, dout[3] = {8, 8, 1};
    mv_vol_init(&traj);
    memset(&k, 0, sizeof(k)), memset(&s, 0, sizeof(s)), memset(&out, 0, sizeof(out));
    static float2 fake[1];
    if (mv_vol_alloc(&traj, MV_DT_C64, 3, dt, NULL) != MV_OK) exit(1);
    k.vol.dtype = s.vol.dtype = out.vol.dtype = MV_DT_C64;
    k.vol.data = s.vol.data = out.vol.data = fake; /* never dereferenced: every case fails its checks */
    k.vol.ndim = s.vol.ndim = 4, out.vol.ndim = 3;
    for (int a = 0; a < MV_MAX_DIMS; a++) k.vol.dim[a] = s.vol.dim[a] = out.vol.dim[a] = 1;
    for (int a = 0; a < 4; a++) k.vol.dim[a] = dk[a], s.vol.dim[a] = ds[a];
    for (int a = 0; a < 3; a++) out.vol.dim[a] = dout[a];
    struct { const char *what, *word; mv_status want; } cases[] = {
        {"NULL traj", "traj", MV_ERR_INVALID_ARG},   {"NULL kspace", "kspace", MV_ERR_INVALID_ARG},
        {"f32 traj", "traj", MV_ERR_UNSUPPORTED},    {"kspace samples", "kspace dims", MV_ERR_INVALID_ARG},
        {"sens coils", "sens", MV_ERR_INVALID_ARG},  {"out dims", "out", MV_ERR_INVALID_ARG},
        {"lambda", "opts.lambda", MV_ERR_INVALID_ARG}, {"slices", "opts.slices", MV_ERR_INVALID_ARG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mv_vol t2 = traj;
        mv_cuda_vol k2 = k, s2 = s, o2 = out;
        mv_cg_opts o;
        memset(&o, 0, sizeof(o));
        const mv_vol *tp = &t2;
        const mv_cuda_vol *kp = &k2;
        switch (i) {
        case 0: tp = NULL; break;
        case 1: kp = NULL; break;
        case 2: t2.dtype = MV_DT_F32; break;
        case 3: k2.vol.dim[1] = 7; break;
        case 4: s2.vol.dim[3] = 3; break;
        case 5: o2.vol.dim[1] = 9; break;
        case 6: o.lambda = -1; break;
        case 7: o.slices = 1, k2.vol.ndim = 5, k2.vol.dim[4] = 2; break;
        }
        checks++;
        const mv_status st = mv_cuda_cgsense_nc_into(tp, kp, &s2, &o2, &o, NULL);
        if (st != cases[i].want || !strstr(mv_last_error(), cases[i].word) || !strstr(mv_last_error(), "mv_cuda_cgsense_nc_into")) {
            printf("FAIL cgsense_nc bad args, %s: status %d (want %d), \"%s\" (want \"%s\")\n", cases[i].what, (int)st,
                   (int)cases[i].want, mv_last_error(), cases[i].word);
            fails++;
        }
    }
    mv_free(&traj);
    printf("  cgsense_nc: %d bad-argument cases refused before any device work\n", (int)(sizeof(cases) / sizeof(cases[0])));
}

static void check_cgsense_nc(void)
{
    cgnc_bad_args();
    static const int64_t n2a[3] = {21, 19, 1}, n2b[3] = {32, 32, 1}, n3[3] = {9, 8, 7};
    cgnc_case(n2a, 21, 13, 0, 4, 2, 0, 0, 0, 0.01, 30, 1e-4, 1e-4,
              "cgsense_nc 2D 21x19 (odd), 21 x 13 spokes, 4 coils, 2 frames, lambda 0.01, tolerance 1e-4");
    cgnc_case(n2b, 32, 24, 0, 8, 1, 0, 0, 0, 0.001, 30, 1e-5, 1e-4,
              "cgsense_nc 2D 32x32, 32 x 24 spokes, 8 coils, lambda 0.001, tolerance 1e-5");
    cgnc_case(n2a, 21, 11, 0, 3, 3, 0, 3, 2, 0.01, 15, 0.0, 1e-4,
              "cgsense_nc 2D 21x19, opts.slices (3 slices), 3 coils in batches of 2, lambda 0.01, 15 iterations");
    cgnc_case(n3, 9, 120, 1, 3, 1, 0, 0, 0, 0.01, 30, 1e-3, 1e-4,
              "cgsense_nc 3D 9x8x7 (odd), kooshball 9 x 120, 3 coils, lambda 0.01, tolerance 1e-3");
    cgnc_case(n3, 9, 60, 1, 3, 1, 0, 0, 0, 0.05, 12, 0.0, 1e-4,
              "cgsense_nc 3D 9x8x7 (odd), kooshball 9 x 60, 3 coils, lambda 0.05, 12 iterations");
    /* ill-conditioned: radial sampling without density compensation puts
       eigenvalues of A^H A near 100 at the centre of k-space, so with
       lambda 0 (or 0.1 and a deep solve) the 1e-7 differences of the
       operators grow ~3-10x per late iteration, as they would between any
       two float32 implementations: the looser bound medvol_cuda.h states */
    cgnc_case(n2a, 21, 9, 0, 3, 2, 1, 0, 2, 0.0, 8, 0.0, 1e-3,
              "cgsense_nc 2D 21x19, a trajectory per frame, 3 coils in batches of 2, lambda 0, 8 iterations");
    cgnc_case(n3, 9, 60, 1, 3, 1, 0, 0, 0, 0.1, 7, 0.0, 1e-3,
              "cgsense_nc 3D 9x8x7 (odd), kooshball 9 x 60, 3 coils, lambda 0.1, 7 iterations");
}

int main(void)
{
    check_nufft();
    check_cgsense_nc();
    check_cgsense();
    check_grappa();
    check_transport();
    check_transport_tiles();
    check_gaussian();
    check_stats();
    check_convert();
    check_spatial();
    check_fftc();
    check_resample();
    check_cubic();
    check_field();
    check_jacobian();
    check_invert();
    check_demons();
    check_metric();
    check_metric_lncc();
    printf("cuda host-side checks: %d checked, %d failed (the kernels themselves need a GPU: make test-cuda)\n", checks,
           fails);
    return fails != 0;
}
