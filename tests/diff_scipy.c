/* diff_scipy.c - one call of a medvol function on a raw float32 / uint8
   volume, for tests/py/diff_scipy.py, which draws random cases (shapes with
   axes of length 1, every mode, odd parameters) and compares each output
   with scipy.ndimage's. Not a test on its own: the Python side decides.

   diff_scipy FAMILY NX NY NZ ARGS... IN OUT
     gauss    S0 S1 S2 O0 O1 O2 MODE CVAL TRUNCATE METHOD  (order all 0: mv_gaussian,
                                                           else mv_gaussian_derivative)
     box      R0 R1 R2 MODE CVAL                           mv_box_filter
     resample MX MY MZ INTERP FILL_OUTSIDE FILL M00..M23    mv_resample_into (vox_map rows 0..2)
     morph    SX SY SZ OP SHAPE RADIUS CONN ITER BORDER MM  mv_morph (IN uint8)
     label    CONN                                         mv_label (IN uint8, OUT int32; prints n)
     edt      SX SY SZ SIGN SQUARED                        mv_edt (IN uint8)
     pct      NONZERO Q0 Q1 Q2 Q3 Q4                       mv_percentiles (prints them, %.17g)
     hist     NBINS LO HI                                  mv_histogram (prints the counts)
     math     OP S USE_B FILL                              mv_math (IN: a, then b when USE_B;
                                                           else the scalar S)
     zoom     MX MY MZ INTERP ALIGN_CORNERS                mv_resample_shape
     pyramid  F0 F1 F2 S0 S1 S2 MODE MIN_SIZE               mv_pyramid_level of a one-level
                                                           schedule (no spacing adjustment;
                                                           prints the level's shape)
   Raw files: x fastest (numpy's (Z, Y, X) C order). Exit 0 and OUT written,
   or non-zero with medvol's message on stderr. */
#include "../medvol.h"
#include "diff_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what)
{
    fprintf(stderr, "diff_scipy: %s: %s\n", what, mv_last_error());
    return 1;
}

static int read_raw(const char *path, mv_vol *v) { return diff_read_exact(path, v->data, mv_vol_bytes(v)); }
static int write_raw(const char *path, const mv_vol *v) { return diff_write_exact(path, v->data, mv_vol_bytes(v)); }

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int nargs; /* between the dims and IN OUT */
        mv_dtype in;
    } fam[] = {{"gauss", 10, MV_DT_F32}, {"box", 5, MV_DT_F32},  {"resample", 18, MV_DT_F32},
               {"morph", 10, MV_DT_U8},  {"label", 1, MV_DT_U8}, {"edt", 5, MV_DT_U8},
               {"pyramid", 8, MV_DT_F32}, {"pct", 6, MV_DT_F32}, {"hist", 3, MV_DT_F32},
               {"math", 4, MV_DT_F32}, {"zoom", 5, MV_DT_F32}};
    int k, a, nf = (int)(sizeof(fam) / sizeof(fam[0]));
    int64_t d[3];
    double p[18];
    mv_vol in, out;
    mv_status st = MV_OK;
    if (argc < 2) return 2;
    for (k = 0; k < nf && strcmp(argv[1], fam[k].name) != 0; k++) {}
    if (k == nf || argc != 2 + 3 + fam[k].nargs + 2) {
        fprintf(stderr, "usage: see tests/diff_scipy.c\n");
        return 2;
    }
    for (a = 0; a < 3; a++) d[a] = atoll(argv[2 + a]);
    for (a = 0; a < fam[k].nargs; a++) p[a] = atof(argv[5 + a]);
    mv_vol_init(&out);
    if (k == 9) { /* math: a (and b) from one file */
        const int64_t d2[4] = {d[0], d[1], d[2], 2};
        mv_math_opts o;
        mv_vol va, vb;
        int use_b = (int)p[2];
        memset(&o, 0, sizeof(o));
        o.fill = p[3];
        if (mv_vol_alloc(&in, MV_DT_F32, use_b ? 4 : 3, d2, NULL) != MV_OK) return fail("input");
        if (!read_raw(argv[argc - 2], &in)) return fail("reading the input");
        va = in;
        va.ndim = 3;
        va.dim[3] = 1;
        vb = va;
        vb.data = (float *)in.data + d[0] * d[1] * d[2];
        st = mv_math(&va, (mv_math_op)(int)p[0], use_b ? &vb : NULL, p[1], &out, &o);
        if (st != MV_OK) return fail("math");
        if (!write_raw(argv[argc - 1], &out)) return fail("writing the output");
        mv_free(&out);
        mv_free(&in);
        return 0;
    }
    if (mv_vol_alloc(&in, fam[k].in, 3, d, NULL) != MV_OK) return fail("input");
    if (!read_raw(argv[argc - 2], &in)) return fail("reading the input");
    if (k == 0 || k == 1) { /* gauss, box */
        mv_filter_opts o;
        memset(&o, 0, sizeof(o));
        if (k == 0) {
            const int order[3] = {(int)p[3], (int)p[4], (int)p[5]};
            o.mode = (mv_boundary)(int)p[6];
            o.cval = p[7];
            o.truncate = p[8];
            o.method = (int)p[9];
            st = order[0] || order[1] || order[2] ? mv_gaussian_derivative(&in, &out, p, order, &o)
                                                  : mv_gaussian(&in, &out, p, &o);
        } else {
            const int64_t r[3] = {(int64_t)p[0], (int64_t)p[1], (int64_t)p[2]};
            o.mode = (mv_boundary)(int)p[3];
            o.cval = p[4];
            st = mv_box_filter(&in, &out, r, &o);
        }
    } else if (k == 2) { /* resample */
        const int64_t m[3] = {(int64_t)p[0], (int64_t)p[1], (int64_t)p[2]};
        double M[4][4] = {{0}};
        mv_resample_opts o;
        memset(&o, 0, sizeof(o));
        o.interp = (mv_interp)(int)p[3];
        o.fill_outside = (int)p[4];
        o.fill = p[5];
        for (a = 0; a < 12; a++) M[a / 4][a % 4] = p[6 + a];
        M[3][3] = 1;
        if (mv_vol_alloc(&out, MV_DT_F32, 3, m, NULL) != MV_OK) return fail("output");
        st = mv_resample_into(&in, &out, (const double(*)[4])M, &o);
    } else if (k == 3) { /* morph */
        mv_morph_opts o;
        memset(&o, 0, sizeof(o));
        for (a = 0; a < 3; a++) in.spacing[a] = p[a];
        o.shape = (mv_se_shape)(int)p[4];
        o.radius = p[5];
        o.connectivity = (int)p[6];
        o.iterations = (int)p[7];
        o.border_value = (int)p[8];
        o.mm = (int)p[9];
        st = mv_morph(&in, (mv_morph_op)(int)p[3], &out, &o);
    } else if (k == 4) { /* label */
        mv_label_opts o;
        int64_t n = 0;
        memset(&o, 0, sizeof(o));
        o.connectivity = (int)p[0];
        st = mv_label(&in, &out, &n, &o);
        if (st == MV_OK) printf("%lld\n", (long long)n);
    } else if (k == 6) { /* pyramid */
        mv_pyramid_schedule ps;
        mv_filter_opts o;
        memset(&ps, 0, sizeof(ps));
        memset(&o, 0, sizeof(o));
        ps.nlevels = 1;
        for (a = 0; a < 3; a++) ps.shrink[0][a] = p[a], ps.sigma[0][a] = p[3 + a];
        ps.min_size = (int64_t)p[7];
        ps.no_spacing_adjust = 1;
        o.mode = (mv_boundary)(int)p[6];
        st = mv_pyramid_level(&in, &ps, 0, &out, &o);
        if (st == MV_OK) printf("%lld %lld %lld\n", (long long)out.dim[0], (long long)out.dim[1], (long long)out.dim[2]);
    } else if (k == 7) { /* pct */
        mv_intensity_opts o;
        double r[5];
        memset(&o, 0, sizeof(o));
        o.nonzero = (int)p[0];
        st = mv_percentiles(&in, p + 1, 5, r, &o);
        if (st == MV_OK) printf("%.17g %.17g %.17g %.17g %.17g\n", r[0], r[1], r[2], r[3], r[4]);
        if (st == MV_OK) return 0;
    } else if (k == 8) { /* hist */
        int64_t *c;
        if (!(p[0] >= 1 && p[0] <= (1 << 24))) { /* before the allocation; mv_histogram checks it again */
            fprintf(stderr, "diff_scipy: hist: NBINS %g\n", p[0]);
            return 2;
        }
        c = (int64_t *)calloc((size_t)p[0], sizeof(int64_t));
        if (!c) return fail("counts");
        st = mv_histogram(&in, (int)p[0], p[1], p[2], c, NULL);
        for (a = 0; st == MV_OK && a < (int)p[0]; a++) printf("%lld ", (long long)c[a]);
        if (st == MV_OK) printf("\n");
        free(c);
        if (st == MV_OK) return 0;
    } else if (k == 10) { /* zoom */
        const int64_t m[3] = {(int64_t)p[0], (int64_t)p[1], (int64_t)p[2]};
        mv_resample_opts o;
        memset(&o, 0, sizeof(o));
        o.interp = (mv_interp)(int)p[3];
        o.align_corners = (int)p[4];
        st = mv_resample_shape(&in, &out, m, &o);
    } else { /* edt */
        mv_edt_opts o;
        memset(&o, 0, sizeof(o));
        for (a = 0; a < 3; a++) in.spacing[a] = p[a];
        o.sign = (int)p[3];
        o.squared = (int)p[4];
        st = mv_edt(&in, &out, &o);
    }
    if (st != MV_OK) return fail(argv[1]);
    if (!write_raw(argv[argc - 1], &out)) return fail("writing the output");
    mv_free(&out);
    mv_free(&in);
    return 0;
}
