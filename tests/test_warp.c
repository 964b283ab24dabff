/* test_warp.c - resampling through general (non-separable) voxel maps, the
   path a registration's warp takes: rows split into the run whose taps are
   all inside (found by bisection) and its ends. Checked against a float64
   brute-force definition written here (scipy map_coordinates order 1 and 0
   with mode 'nearest' / 'constant': trilinear of the clamped coordinate,
   voxel floor(c + 0.5)), bit for bit across every ISA the machine runs and
   across thread counts, on maps whose rows enter and leave the volume, run
   backwards, stand still (x step 0), 2D inputs and odd shapes. The cubic
   prefilter (strips of the y and z passes, lane groups in registers) is
   compared across ISAs and thread counts on odd shapes in both boundary
   modes. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>

static uint32_t wp_rand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void wp_volume(mv_vol *v, mv_dtype dt, int64_t nx, int64_t ny, int64_t nz, uint32_t seed)
{
    int64_t dims[3];
    size_t i, n;
    dims[0] = nx;
    dims[1] = ny;
    dims[2] = nz;
    REQUIRE_OK(mv_vol_alloc(v, dt, 3, dims, NULL));
    n = (size_t)(nx * ny * nz);
    for (i = 0; i < n; i++) {
        uint32_t r = wp_rand(&seed);
        if (dt == MV_DT_F32) ((float *)v->data)[i] = (float)((double)(r % 20001) / 10000.0 - 1.0);
        else if (dt == MV_DT_I32) ((int32_t *)v->data)[i] = (int32_t)(r % 2000001) - 1000000;
        else ((int16_t *)v->data)[i] = (int16_t)((int)(r % 60001) - 30000);
    }
}

/* M about the centre c of a volume: rotation az about z, ax about x, then
   a shift (voxels) */
static void wp_rot(double M[4][4], double az, double ax, const double c[3], const double shift[3])
{
    double R[3][3];
    int r, k;
    R[0][0] = cos(az);
    R[0][1] = -sin(az) * cos(ax);
    R[0][2] = sin(az) * sin(ax);
    R[1][0] = sin(az);
    R[1][1] = cos(az) * cos(ax);
    R[1][2] = -cos(az) * sin(ax);
    R[2][0] = 0;
    R[2][1] = sin(ax);
    R[2][2] = cos(ax);
    for (r = 0; r < 3; r++) {
        M[r][3] = c[r] + shift[r];
        for (k = 0; k < 3; k++) {
            M[r][k] = R[r][k];
            M[r][3] -= R[r][k] * c[k];
        }
    }
    M[3][0] = M[3][1] = M[3][2] = 0;
    M[3][3] = 1;
}

/* input coordinate of output voxel (i, j, k) as the library forms it */
static double wp_coord(const double M[4][4], int a, int64_t i, int64_t j, int64_t k)
{
    double base = M[a][1] * (double)j + M[a][2] * (double)k + M[a][3];
    return M[a][0] * (double)i + base;
}

/* float64 trilinear (scipy order 1; mode 'nearest' clamps, fill gives cval
   outside [0, n-1]) */
static double wp_linear(const mv_vol *in, const double c[3], int fill, double cval)
{
    const float *v = (const float *)in->data;
    int64_t f[3], n[3];
    double t[3], acc = 0;
    int a, dx, dy, dz;
    for (a = 0; a < 3; a++) {
        double cl;
        n[a] = in->dim[a];
        if (fill && !(c[a] >= 0 && c[a] <= (double)(n[a] - 1))) return cval;
        cl = c[a] < 0 ? 0 : c[a] > (double)(n[a] - 1) ? (double)(n[a] - 1) : c[a];
        if (n[a] == 1) {
            f[a] = 0;
            t[a] = 0;
            continue;
        }
        f[a] = (int64_t)floor(cl);
        if (f[a] >= n[a] - 1) f[a] = n[a] - 2;
        t[a] = cl - (double)f[a];
    }
    for (dz = 0; dz < 2; dz++)
        for (dy = 0; dy < 2; dy++)
            for (dx = 0; dx < 2; dx++) {
                double w = (dx ? t[0] : 1 - t[0]) * (dy ? t[1] : 1 - t[1]) * (dz ? t[2] : 1 - t[2]);
                int64_t x = f[0] + dx, y = f[1] + dy, z = f[2] + dz;
                if (w == 0) continue;
                acc += w * (double)v[(z * n[1] + y) * n[0] + x];
            }
    return acc;
}

/* index of the nearest voxel (scipy order 0), or -1 outside with fill */
static int64_t wp_nearest(const mv_vol *in, const double c[3], int fill)
{
    int64_t q[3];
    int a;
    for (a = 0; a < 3; a++) {
        double hi = (double)(in->dim[a] - 1), cl;
        if (fill && !(c[a] >= 0 && c[a] <= hi)) return -1;
        cl = c[a] < 0 ? 0 : c[a] > hi ? hi : c[a];
        q[a] = (int64_t)floor(cl + 0.5);
    }
    return (q[2] * in->dim[1] + q[1]) * in->dim[0] + q[0];
}

#define WP_NMAPS 6
/* the maps of the general-row tests, for an input of dims n */
static void wp_map(int which, const int64_t n[3], double M[4][4])
{
    double c[3], s[3] = {0, 0, 0};
    int a;
    for (a = 0; a < 3; a++) c[a] = (double)(n[a] - 1) / 2;
    memset(M, 0, 16 * sizeof(double));
    M[3][3] = 1;
    switch (which) {
    case 0: /* turned about the centre: rows enter and leave */
        wp_rot(M, 0.35, 0.12, c, s);
        break;
    case 1: /* turned and shifted by 3.5 voxels: most rows cross an edge */
        s[0] = 3.5;
        s[1] = -2.25;
        wp_rot(M, -0.6, 0.3, c, s);
        break;
    case 2: /* x runs backwards (negative steps on every axis) */
        M[0][0] = -0.93;
        M[1][0] = -0.21;
        M[2][0] = -0.05;
        M[0][1] = 0.1;
        M[1][1] = 1.1;
        M[2][2] = 0.9;
        M[0][3] = (double)n[0] + 2.3;
        M[1][3] = 1.7;
        M[2][3] = 0.4;
        break;
    case 3: /* x step 0: a row stands on one coordinate */
        M[0][1] = 0.6;
        M[1][1] = 0.5;
        M[1][2] = 0.3;
        M[2][2] = 0.7;
        M[0][3] = 1.2;
        M[1][3] = -0.4;
        M[2][3] = 0.6;
        break;
    case 4: /* exact edges: c hits 0 and n-1 on voxel centres */
        M[0][0] = 1;
        M[1][0] = 0.5;
        M[1][1] = 1;
        M[2][2] = 1;
        M[0][3] = -2;
        M[1][3] = -1;
        break;
    default: /* far outside on both sides, tiny z step */
        M[0][0] = 3e5;
        M[1][0] = -2e5;
        M[2][0] = 1e-9;
        M[0][1] = 0.5;
        M[1][1] = 0.4;
        M[2][2] = 0.5;
        M[0][3] = -7e5;
        M[1][3] = 9;
        M[2][3] = 0.25;
        break;
    }
}

/* every ISA the machine runs, bit for bit against MV_ISA_REF */
static void wp_isas_match(const mv_vol *in, const mv_vol *ref, const double M[4][4], const mv_resample_opts *o, const char *what)
{
    unsigned avail = mv_isa_available();
    mv_isa active = mv_isa_active();
    int isa;
    for (isa = 0; isa < MV_ISA_COUNT; isa++) {
        mv_vol got;
        if (!(avail & (1u << isa)) || isa == MV_ISA_REF) continue;
        REQUIRE_OK(mv_set_isa((mv_isa)isa));
        REQUIRE_OK(mv_vol_alloc(&got, ref->dtype, 3, ref->dim, NULL));
        REQUIRE_OK(mv_resample_into(in, &got, M, o));
        EXPECT_MSG(memcmp(got.data, ref->data, mv_vol_bytes(ref)) == 0, "%s: %s differs from ref", what,
                   mv_isa_name((mv_isa)isa));
        mv_free(&got);
    }
    EXPECT_OK(mv_set_isa(active));
}

/* linear and nearest through general maps: the float64 definition (linear
   within float32 rounding, nearest exactly), then every ISA bit for bit */
MV_TEST(warp, general_rows_match_definition)
{
    static const int64_t ins[][3] = {{29, 23, 13}, {40, 17, 1}, {2, 9, 5}};
    static const int64_t outs[][3] = {{37, 11, 5}, {64, 6, 3}, {1, 7, 4}, {16, 3, 2}};
    static const mv_dtype near_dts[] = {MV_DT_F32, MV_DT_I32, MV_DT_I16};
    mv_isa active = mv_isa_active();
    size_t ii, oi, di;
    int mi, fill, interp;
    for (ii = 0; ii < sizeof(ins) / sizeof(ins[0]); ii++)
        for (di = 0; di < sizeof(near_dts) / sizeof(near_dts[0]); di++) {
            mv_vol in;
            wp_volume(&in, near_dts[di], ins[ii][0], ins[ii][1], ins[ii][2], (uint32_t)(7 + ii * 31 + di));
            for (mi = 0; mi < WP_NMAPS; mi++)
                for (oi = 0; oi < sizeof(outs) / sizeof(outs[0]); oi++)
                    for (fill = 0; fill < 2; fill++)
                        for (interp = 0; interp < 2; interp++) {
                            double M[4][4];
                            mv_resample_opts o;
                            mv_vol ref;
                            int64_t i, j, k, bad = 0, first = -1;
                            char what[160];
                            if (interp == 0 && near_dts[di] != MV_DT_F32) continue; /* linear: float32 rows */
                            wp_map(mi, in.dim, M);
                            memset(&o, 0, sizeof(o));
                            o.interp = interp == 0 ? MV_INTERP_LINEAR : MV_INTERP_NEAREST;
                            o.fill_outside = fill;
                            o.fill = -7;
                            o.threads = 1;
                            o.raw = 1;
                            REQUIRE_OK(mv_set_isa(MV_ISA_REF));
                            REQUIRE_OK(mv_vol_alloc(&ref, interp == 0 ? MV_DT_F32 : near_dts[di], 3, outs[oi], NULL));
                            REQUIRE_OK(mv_resample_into(&in, &ref, (const double(*)[4])M, &o));
                            for (k = 0; k < outs[oi][2]; k++)
                                for (j = 0; j < outs[oi][1]; j++)
                                    for (i = 0; i < outs[oi][0]; i++) {
                                        size_t at = (size_t)((k * outs[oi][1] + j) * outs[oi][0] + i);
                                        double c[3];
                                        int a, ok;
                                        for (a = 0; a < 3; a++) c[a] = wp_coord((const double(*)[4])M, a, i, j, k);
                                        if (interp == 0) {
                                            double want = wp_linear(&in, c, fill, -7), got = ((const float *)ref.data)[at];
                                            ok = fabs(got - want) <= 1e-5 * (1 + fabs(want));
                                        } else {
                                            int64_t q = wp_nearest(&in, c, fill);
                                            size_t es = mv_dtype_size(near_dts[di]);
                                            if (q < 0) {
                                                double got = near_dts[di] == MV_DT_F32   ? ((const float *)ref.data)[at]
                                                             : near_dts[di] == MV_DT_I32 ? ((const int32_t *)ref.data)[at]
                                                                                         : ((const int16_t *)ref.data)[at];
                                                ok = got == -7;
                                            } else {
                                                ok = memcmp((const unsigned char *)ref.data + at * es,
                                                            (const unsigned char *)in.data + (size_t)q * es, es) == 0;
                                            }
                                        }
                                        if (!ok && first < 0) first = (int64_t)at;
                                        bad += !ok;
                                    }
                            snprintf(what, sizeof(what), "%s %s in %lldx%lldx%lld map %d out %lldx%lldx%lld fill %d",
                                     interp ? "nearest" : "linear", mv_dtype_name(near_dts[di]), (long long)ins[ii][0],
                                     (long long)ins[ii][1], (long long)ins[ii][2], mi, (long long)outs[oi][0],
                                     (long long)outs[oi][1], (long long)outs[oi][2], fill);
                            EXPECT_MSG(bad == 0, "%s: %lld voxels differ from the float64 definition (first %lld)", what,
                                       (long long)bad, (long long)first);
                            wp_isas_match(&in, &ref, (const double(*)[4])M, &o, what);
                            mv_free(&ref);
                        }
            mv_free(&in);
        }
    EXPECT_OK(mv_set_isa(active));
}

/* a rotated map over a 192x160x144 volume: 1 and 2 threads (slabs of
   output slices) give the same bytes, linear, nearest and cubic, both
   boundary modes; linear also matches the float64 definition at sampled
   voxels */
MV_TEST(warp, large_map_threads_identical)
{
    static const int64_t n[3] = {192, 160, 144};
    mv_vol in;
    double M[4][4], c[3], s[3] = {1.25, -0.5, 0.75};
    int a, interp, fill;
    for (a = 0; a < 3; a++) c[a] = (double)(n[a] - 1) / 2;
    wp_rot(M, 0.26, 0.09, c, s);
    wp_volume(&in, MV_DT_F32, n[0], n[1], n[2], 99);
    for (interp = 0; interp < 3; interp++)
        for (fill = 0; fill < 2; fill++) {
            mv_resample_opts o;
            mv_vol one, two;
            memset(&o, 0, sizeof(o));
            o.interp = (mv_interp)interp;
            o.fill_outside = fill;
            o.fill = 3;
            o.threads = 1;
            REQUIRE_OK(mv_vol_alloc(&one, MV_DT_F32, 3, n, NULL));
            REQUIRE_OK(mv_vol_alloc(&two, MV_DT_F32, 3, n, NULL));
            REQUIRE_OK(mv_resample_into(&in, &one, (const double(*)[4])M, &o));
            o.threads = 2;
            REQUIRE_OK(mv_resample_into(&in, &two, (const double(*)[4])M, &o));
            EXPECT_MSG(memcmp(one.data, two.data, mv_vol_bytes(&one)) == 0, "interp %d fill %d: 2 threads differ from 1", interp,
                       fill);
            if (interp == MV_INTERP_LINEAR) {
                uint32_t seed = 5;
                int t, bad = 0;
                for (t = 0; t < 20000; t++) {
                    int64_t i = (int64_t)(wp_rand(&seed) % (uint32_t)n[0]), j = (int64_t)(wp_rand(&seed) % (uint32_t)n[1]),
                            k = (int64_t)(wp_rand(&seed) % (uint32_t)n[2]);
                    double cc[3], want, got = ((const float *)one.data)[(k * n[1] + j) * n[0] + i];
                    for (a = 0; a < 3; a++) cc[a] = wp_coord((const double(*)[4])M, a, i, j, k);
                    want = wp_linear(&in, cc, fill, 3);
                    bad += !(fabs(got - want) <= 1e-5 * (1 + fabs(want)));
                }
                EXPECT_MSG(bad == 0, "fill %d: %d sampled voxels differ from the float64 definition", fill, bad);
            }
            mv_free(&one);
            mv_free(&two);
        }
    mv_free(&in);
}

/* the cubic prefilter and general cubic rows on odd shapes (x not a
   multiple of the 32 lanes of a strip, y and z short and long), both
   boundary modes: every ISA bit for bit, and 1 vs 2 threads */
MV_TEST(warp, cubic_prefilter_isas_threads)
{
    static const int64_t ins[][3] = {{37, 5, 3}, {70, 33, 9}, {3, 40, 66}, {31, 2, 2}};
    mv_isa active = mv_isa_active();
    size_t ii;
    int fill, rot;
    for (ii = 0; ii < sizeof(ins) / sizeof(ins[0]); ii++) {
        mv_vol in;
        wp_volume(&in, MV_DT_F32, ins[ii][0], ins[ii][1], ins[ii][2], (uint32_t)(300 + ii));
        ((float *)in.data)[1] = 3e38f; /* the prefilter's 2^-k scaling */
        for (rot = 0; rot < 2; rot++)
            for (fill = 0; fill < 2; fill++) {
                double M[4][4];
                int64_t out[3];
                mv_resample_opts o;
                mv_vol ref, two;
                char what[120];
                int a;
                for (a = 0; a < 3; a++) out[a] = ins[ii][a] > 4 ? ins[ii][a] / 2 + 1 : ins[ii][a];
                if (rot) {
                    wp_map(1, ins[ii], M);
                } else {
                    memset(M, 0, sizeof(M));
                    for (a = 0; a < 3; a++) {
                        M[a][a] = (double)ins[ii][a] / (double)out[a];
                        M[a][3] = 0.5 * M[a][a] - 0.5;
                    }
                    M[3][3] = 1;
                }
                memset(&o, 0, sizeof(o));
                o.interp = MV_INTERP_CUBIC;
                o.fill_outside = fill;
                o.threads = 1;
                REQUIRE_OK(mv_set_isa(MV_ISA_REF));
                REQUIRE_OK(mv_vol_alloc(&ref, MV_DT_F32, 3, out, NULL));
                REQUIRE_OK(mv_resample_into(&in, &ref, (const double(*)[4])M, &o));
                snprintf(what, sizeof(what), "cubic %lldx%lldx%lld %s fill %d", (long long)ins[ii][0], (long long)ins[ii][1],
                         (long long)ins[ii][2], rot ? "turned" : "zoom", fill);
                wp_isas_match(&in, &ref, (const double(*)[4])M, &o, what);
                EXPECT_OK(mv_set_isa(active));
                o.threads = 2;
                REQUIRE_OK(mv_vol_alloc(&two, MV_DT_F32, 3, out, NULL));
                REQUIRE_OK(mv_resample_into(&in, &two, (const double(*)[4])M, &o));
                /* (the reference ISA's bytes: every ISA matched them above) */
                EXPECT_MSG(memcmp(two.data, ref.data, mv_vol_bytes(&ref)) == 0, "%s: 2 threads differ", what);
                mv_free(&two);
                mv_free(&ref);
            }
        mv_free(&in);
    }
    EXPECT_OK(mv_set_isa(active));
}
