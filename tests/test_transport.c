/* test_transport.c - proton transport (>>api-transport) against independent
   references: NIST PSTAR's CSDA ranges (the published column, not our
   integral), the closed-form Bragg-Kleeman range and depth-dose, a
   Fermi-Eyges/Highland numeric integration in numpy/scipy
   (tests/py/ref_transport.py), hand-computed shifts and bilinear moves,
   exact conservation sums taken here from the fluence and dose; every ISA
   and thread count against the scalar reference, fused against unfused. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>

#define TR_PI 3.14159265358979323846

/* ---- helpers ---------------------------------------------------------------- */

typedef struct tr_sums {
    double n, e; /* particles and energy (MeV) in a fluence */
} tr_sums;

static tr_sums tr_total(const mv_transport_grid *g, const float *psi)
{
    tr_sums s = {0, 0};
    int64_t per = g->cells / g->ne, c;
    int i;
    for (i = 0; i < g->ne; i++) {
        double n = 0;
        for (c = 0; c < per; c++) n += psi[(size_t)i * (size_t)per + (size_t)c];
        s.n += n;
        s.e += n * g->energy[i];
    }
    return s;
}

static double tr_sum_d(const double *d, int64_t n)
{
    double s = 0;
    int64_t i;
    for (i = 0; i < n; i++) s += d[i];
    return s;
}

static void tr_fill_random(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    int64_t i;
    for (i = 0; i < n; i++) x[i] = (float)tu_rand01(&s);
}

/* Bragg-Kleeman material: S(E) = E^(1-p) / (p alpha), a pure power law, so
   the log-log table is exact; 61 points from 1 keV to 1 GeV. */
#define TR_BK_ALPHA 0.0022
#define TR_BK_P 1.77
static double tr_bk_e[61], tr_bk_s[61];
static mv_material tr_bk_material(void)
{
    mv_material m;
    int i;
    for (i = 0; i < 61; i++) {
        tr_bk_e[i] = 1e-3 * pow(10.0, 6.0 * i / 60.0);
        tr_bk_s[i] = pow(tr_bk_e[i], 1 - TR_BK_P) / (TR_BK_P * TR_BK_ALPHA);
    }
    m.energy = tr_bk_e;
    m.stopping = tr_bk_s;
    m.n = 61;
    m.density = 1.0;
    m.x0 = 36.08;
    return m;
}

/* linear interpolation of the depth where y falls through level after i0 */
static double tr_distal(const double *y, int n, int i0, double level, double dz)
{
    int k;
    for (k = i0; k < n - 1; k++)
        if (y[k] >= level && y[k + 1] < level) return (k + (y[k] - level) / (y[k] - y[k + 1])) * dz;
    return -1;
}

/* ---- physics ----------------------------------------------------------------- */

MV_TEST(transport, pstar_csda_ranges)
{
    /* PSTAR's CSDA range column for liquid water (g/cm^2), independent of
       the stopping-power column our integral starts from */
    static const double e[] = {10, 20, 50, 70, 100, 150, 200, 250, 300};
    static const double r[] = {0.1230, 0.4260, 2.227, 4.080, 7.718, 15.77, 25.96, 37.94, 51.45};
    mv_material w;
    int i;
    REQUIRE_OK(mv_material_water(&w));
    for (i = 0; i < 9; i++) {
        double got, back;
        REQUIRE_OK(mv_csda_range(NULL, e[i], &got));
        EXPECT_MSG(fabs(got / r[i] - 1) < 1e-3, "E %g: range %.5f, PSTAR %.4f (%.2e)", e[i], got, r[i],
                   got / r[i] - 1);
        REQUIRE_OK(mv_csda_energy(&w, got, &back));
        EXPECT_REL(back, e[i], 1e-12);
    }
    /* the table itself is hit exactly, and log-log between its points */
    {
        double s1, s2, sm;
        REQUIRE_OK(mv_stopping_power(NULL, 100, &s1));
        EXPECT_REL(s1, 7.289, 1e-12);
        REQUIRE_OK(mv_stopping_power(NULL, 125, &s2));
        REQUIRE_OK(mv_stopping_power(NULL, sqrt(100.0 * 125), &sm));
        EXPECT_REL(sm, sqrt(s1 * s2), 1e-12); /* log-log: the geometric mean at the log midpoint */
    }
}

MV_TEST(transport, highland_standard_form)
{
    /* 150 MeV through 5 cm of water, by hand: pc = sqrt(T (T + 2m)),
       beta = pc / (T + m), x/X0 = 5 / 36.08 */
    double t = 150, m = 938.272, pc = sqrt(t * (t + 2 * m)), beta = pc / (t + m), x = 5.0 / 36.08, th, want;
    want = 13.6 / (pc * beta) * sqrt(x) * (1 + 0.038 * log(x / (beta * beta)));
    REQUIRE_OK(mv_highland(NULL, 150, 50, &th));
    EXPECT_REL(th, want, 1e-12);
    EXPECT(th > 0.01 && th < 0.02); /* ~14 mrad */
}

MV_TEST(transport, bragg_kleeman_range_and_plateau)
{
    mv_material bk = tr_bk_material();
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_transport_grid g;
    mv_transport_beam b = MV_ZERO_INIT;
    double e0 = 100, r0, rr, *dose, zr = 0;
    float *a, *w;
    int s, k, nsteps, bad = 0;
    r0 = TR_BK_ALPHA * 10 * pow(e0, TR_BK_P); /* mm */
    REQUIRE_OK(mv_csda_range(&bk, e0, &rr));
    EXPECT_REL(rr * 10, r0, 1e-9);
    o.nx = 1;
    o.ntheta = 4;
    o.dz = 0.5;
    o.nz = (int)(r0 / o.dz) + 12;
    o.ne = 320;
    o.e_min = 0.5;
    { /* range bins aligned with the half step: the CSDA loss is exact */
        double rmin = TR_BK_ALPHA * 10 * pow(o.e_min, TR_BK_P);
        o.e_max = pow((rmin + o.ne * o.dz / 2) / (TR_BK_ALPHA * 10), 1 / TR_BK_P);
    }
    o.no_scatter = 1;
    o.split = MV_SPLIT_STRANG;
    o.material = &bk;
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_get_grid(t, &g));
    a = (float *)malloc((size_t)g.cells * 4);
    w = (float *)malloc((size_t)g.cells * 4);
    dose = (double *)calloc((size_t)o.nz, sizeof(double));
    REQUIRE(a && w && dose);
    b.energy = e0;
    REQUIRE_OK(mv_transport_source(t, a, &b));
    nsteps = (int)(r0 / o.dz) + 10;
    for (s = 0; s < nsteps; s++) REQUIRE_OK(mv_transport_step(t, &a, &w, dose, NULL));
    /* Strang deposits at mid-step: row k gets the energy lost over
       [z_k - h/2, z_k + h/2] (row 0: [0, h/2]); E(z) = ((R0 - z)/alpha)^(1/p),
       i.e. dose ~ (R0 - z)^(1/p - 1) */
    for (k = 0; k < o.nz && (k + 0.5) * o.dz < r0 - 1; k++) {
        double z0 = k ? (k - 0.5) * o.dz : 0, z1 = (k + 0.5) * o.dz;
        double want = pow((r0 - z0) / (TR_BK_ALPHA * 10), 1 / TR_BK_P) - pow((r0 - z1) / (TR_BK_ALPHA * 10), 1 / TR_BK_P);
        if (fabs(dose[k] / want - 1) > 0.01 && bad++ < 5)
            MVT_FAIL("z %.2f mm: dose %.6g MeV, Bragg-Kleeman %.6g (%.2f%%)", k * o.dz, dose[k], want,
                     100 * (dose[k] / want - 1));
    }
    {
        int pk = 0;
        for (k = 0; k < o.nz; k++)
            if (dose[k] > dose[pk]) pk = k;
        zr = tr_distal(dose, o.nz, pk, 0.8 * dose[pk], o.dz);
        EXPECT_MSG(fabs(zr - r0) < 0.5, "R80 %.3f mm, alpha E0^p = %.3f mm", zr, r0);
    }
    free(a);
    free(w);
    free(dose);
    mv_transport_free(t);
}

MV_TEST(transport, pstar_range_of_pencil_beams)
{
    /* scattering off: R80 of the dose and R50 of the fluence against
       PSTAR's CSDA range (mm of water) */
    static const double e0[] = {70, 100, 150, 200}, want[] = {40.80, 77.18, 157.7, 259.6};
    static const double dz[] = {0.5, 0.5, 1, 1};
    static const int ne[] = {120, 180, 240, 360};
    int c;
    for (c = 0; c < 4; c++) {
        mv_transport_opts o = MV_ZERO_INIT;
        mv_transport *t = NULL;
        mv_transport_grid g;
        mv_transport_beam b = MV_ZERO_INIT;
        double *dose, *flu, r80, r50;
        float *a, *w;
        int s, k, pk = 0, nsteps;
        o.nx = 1;
        o.ntheta = 4;
        o.dz = dz[c];
        o.nz = (int)(want[c] * 1.1 / o.dz) + 4;
        o.ne = ne[c];
        o.e_min = 0.5;
        o.e_max = e0[c] * 1.05;
        o.no_scatter = 1;
        o.split = MV_SPLIT_STRANG;
        o.fused = c & 1;
        REQUIRE_OK(mv_transport_create(&o, &t));
        REQUIRE_OK(mv_transport_get_grid(t, &g));
        a = (float *)malloc((size_t)g.cells * 4);
        w = (float *)malloc((size_t)g.cells * 4);
        dose = (double *)calloc((size_t)o.nz, sizeof(double));
        flu = (double *)calloc((size_t)o.nz, sizeof(double));
        REQUIRE(a && w && dose && flu);
        b.energy = e0[c];
        REQUIRE_OK(mv_transport_source(t, a, &b));
        nsteps = (int)(want[c] / o.dz) + 10;
        for (s = 0; s < nsteps; s++) {
            int e, j;
            REQUIRE_OK(mv_transport_step(t, &a, &w, dose, NULL));
            /* a step of one row: each particle passes each row once */
            for (e = 0; e < o.ne; e++)
                for (j = 0; j < o.ntheta; j++)
                    for (k = 0; k < o.nz; k++) flu[k] += a[((size_t)e * o.ntheta + j) * (size_t)o.nz + k];
        }
        flu[0] = 1; /* the entrance row holds the source before the first step */
        for (k = 0; k < o.nz; k++)
            if (dose[k] > dose[pk]) pk = k;
        r80 = tr_distal(dose, o.nz, pk, 0.8 * dose[pk], o.dz);
        r50 = tr_distal(flu, o.nz, 0, 0.5, o.dz);
        EXPECT_MSG(fabs(r80 - want[c]) < 0.5, "%g MeV: R80 %.3f mm, PSTAR CSDA %.2f", e0[c], r80, want[c]);
        EXPECT_MSG(fabs(r50 - want[c]) < 0.5, "%g MeV: R50 of fluence %.3f mm, PSTAR CSDA %.2f", e0[c], r50,
                   want[c]);
        free(a);
        free(w);
        free(dose);
        free(flu);
        mv_transport_free(t);
    }
}

/* ---- operators ----------------------------------------------------------------- */

MV_TEST(transport, conservation_every_step)
{
    /* a tilted, wide beam at the slab's edge (particles escape sideways and
       backwards), scattering on, every splitting and form: the fluence and
       dose sums taken here balance to 1e-6 relative, each step */
    int mode;
    for (mode = 0; mode < 4; mode++) {
        mv_transport_opts o = MV_ZERO_INIT;
        mv_transport *t = NULL;
        mv_transport_grid g;
        mv_transport_beam b = MV_ZERO_INIT;
        double *dose;
        float *a, *w;
        int s;
        o.nx = 23;
        o.nz = 30;
        o.ntheta = 36;
        o.ne = 40;
        o.dx = 1.5;
        o.e_min = 2;
        o.e_max = 60;
        o.step = 1.7;
        o.split = mode & 1 ? MV_SPLIT_STRANG : MV_SPLIT_LIE;
        o.fused = mode >> 1;
        REQUIRE_OK(mv_transport_create(&o, &t));
        REQUIRE_OK(mv_transport_get_grid(t, &g));
        a = (float *)malloc((size_t)g.cells * 4);
        w = (float *)malloc((size_t)g.cells * 4);
        dose = (double *)calloc((size_t)o.nz * o.nx, sizeof(double));
        REQUIRE(a && w && dose);
        b.energy = 55;
        b.sigma = 4;
        b.x = 10;
        b.tilt = 20;
        b.weight = 1000;
        REQUIRE_OK(mv_transport_source(t, a, &b));
        for (s = 0; s < 30; s++) {
            mv_transport_balance bal;
            tr_sums in = tr_total(&g, a), out;
            double d0 = tr_sum_d(dose, (int64_t)o.nz * o.nx), dep;
            REQUIRE_OK(mv_transport_step(t, &a, &w, dose, &bal));
            out = tr_total(&g, a);
            dep = tr_sum_d(dose, (int64_t)o.nz * o.nx) - d0;
            EXPECT_MSG(fabs(in.n - out.n - bal.particles_escaped - bal.particles_absorbed) <= 1e-6 * in.n,
                       "mode %d step %d: particles in %.9g out %.9g escaped %.9g absorbed %.9g", mode, s, in.n,
                       out.n, bal.particles_escaped, bal.particles_absorbed);
            EXPECT_MSG(fabs(in.e - out.e - bal.energy_escaped - dep) <= 1e-6 * in.e,
                       "mode %d step %d: energy in %.9g out %.9g escaped %.9g deposited %.9g", mode, s, in.e, out.e,
                       bal.energy_escaped, dep);
            EXPECT_REL(bal.particles_in, in.n, 1e-6);
            EXPECT_REL(bal.particles_out, out.n, 1e-6);
            EXPECT_REL(bal.energy_deposited, dep, 1e-6);
            if (s == 5) EXPECT(bal.particles_escaped > 0); /* the test must see escapes */
        }
        EXPECT(tr_total(&g, a).n < 0.5 * 1000); /* and stops: most of the beam is gone after 30 steps */
        free(a);
        free(w);
        free(dose);
        mv_transport_free(t);
    }
}

MV_TEST(transport, stream_whole_cells_exact)
{
    /* 45 degrees with a step of sqrt(2) cells, and 0 / 90 / 180 degrees
       with a step of one cell: exact shifts; what falls off is escaped */
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_transport_grid g;
    mv_transport_balance bal;
    float *in, *out;
    int64_t nx = 13, nz = 11, z, x;
    int j, e, bad = 0;
    double lost;
    o.nx = (int)nx;
    o.nz = (int)nz;
    o.ntheta = 8;
    o.ne = 3;
    o.step = sqrt(2.0);
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_get_grid(t, &g));
    in = (float *)malloc((size_t)g.cells * 4);
    out = (float *)malloc((size_t)g.cells * 4);
    REQUIRE(in && out);
    tr_fill_random(in, g.cells, 3);
    REQUIRE_OK(mv_transport_apply(t, MV_TRANSPORT_STREAM, in, out, NULL, &bal));
    for (e = 0; e < 3; e++) {
        const float *p = in + ((size_t)e * 8 + 1) * (size_t)(nx * nz), *q = out + ((size_t)e * 8 + 1) * (size_t)(nx * nz);
        for (z = 0; z < nz; z++)
            for (x = 0; x < nx; x++) {
                float want = z >= 1 && x >= 1 ? p[(z - 1) * nx + x - 1] : 0.0f;
                if (memcmp(&q[z * nx + x], &want, 4) != 0 && bad++ < 3)
                    MVT_FAIL("theta 45, bin %d, z %d x %d: %.9g, want %.9g", e, (int)z, (int)x, q[z * nx + x], want);
            }
    }
    EXPECT(bad == 0);
    mv_transport_free(t);
    /* one-cell steps along the axes */
    o.step = 1;
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_apply(t, MV_TRANSPORT_STREAM, in, out, NULL, &bal));
    lost = 0;
    for (e = 0; e < 3; e++)
        for (j = 0; j < 8; j += 2) { /* 0, 90, 180, 270 degrees */
            int dxs = j == 0 ? 1 : j == 4 ? -1 : 0, dzs = j == 2 ? 1 : j == 6 ? -1 : 0;
            const float *p = in + ((size_t)e * 8 + j) * (size_t)(nx * nz), *q = out + ((size_t)e * 8 + j) * (size_t)(nx * nz);
            for (z = 0; z < nz; z++)
                for (x = 0; x < nx; x++) {
                    int64_t sz = z - dzs, sx = x - dxs;
                    float want = sz >= 0 && sz < nz && sx >= 0 && sx < nx ? p[sz * nx + sx] : 0.0f;
                    int64_t tz = z + dzs, tx = x + dxs;
                    if (memcmp(&q[z * nx + x], &want, 4) != 0 && bad++ < 3)
                        MVT_FAIL("theta %d, z %d x %d: %.9g, want %.9g", j * 45, (int)z, (int)x, q[z * nx + x], want);
                    if (tz < 0 || tz >= nz || tx < 0 || tx >= nx) lost += p[z * nx + x];
                }
        }
    EXPECT(bad == 0);
    {
        /* the diagonal angles move by (cos, sin) / 1 cell: count their
           escape by the same rule, fraction by fraction */
        double esc = 0;
        for (e = 0; e < 3; e++)
            for (j = 1; j < 8; j += 2) {
                double a = j * 45 * TR_PI / 180, ux = cos(a), uz = sin(a);
                int64_t ix = (int64_t)floor(ux), iz = (int64_t)floor(uz);
                double fx = ux - ix, fz = uz - iz;
                const float *p = in + ((size_t)e * 8 + j) * (size_t)(nx * nz);
                for (z = 0; z < nz; z++)
                    for (x = 0; x < nx; x++) {
                        int cz, cx;
                        for (cz = 0; cz < 2; cz++)
                            for (cx = 0; cx < 2; cx++) {
                                int64_t tz = z + iz + cz, tx = x + ix + cx;
                                double f = (cz ? fz : 1 - fz) * (cx ? fx : 1 - fx);
                                if (tz < 0 || tz >= nz || tx < 0 || tx >= nx) esc += p[z * nx + x] * f;
                            }
                    }
            }
        EXPECT_REL(bal.particles_escaped, lost + esc, 1e-9);
    }
    free(in);
    free(out);
    mv_transport_free(t);
}

MV_TEST(transport, stream_bilinear_gather)
{
    /* a fractional move: every output cell against the bilinear
       distribution of the source cells, computed here in float64 */
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_transport_grid g;
    float *in, *out;
    double *ref;
    int64_t nx = 17, nz = 9, z, x;
    int j, worst_j = 0;
    double worst = 0;
    o.nx = (int)nx;
    o.nz = (int)nz;
    o.ntheta = 24;
    o.ne = 2;
    o.dx = 0.7;
    o.dz = 1.3;
    o.step = 2.9;
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_get_grid(t, &g));
    in = (float *)malloc((size_t)g.cells * 4);
    out = (float *)malloc((size_t)g.cells * 4);
    ref = (double *)malloc((size_t)(nx * nz) * sizeof(double));
    REQUIRE(in && out && ref);
    tr_fill_random(in, g.cells, 5);
    REQUIRE_OK(mv_transport_apply(t, MV_TRANSPORT_STREAM, in, out, NULL, NULL));
    for (j = 0; j < 24; j++) {
        double a = j * 15 * TR_PI / 180, ux = 2.9 * cos(a) / 0.7, uz = 2.9 * sin(a) / 1.3;
        int64_t ix = (int64_t)floor(ux + 1e-12), iz = (int64_t)floor(uz + 1e-12);
        double fx = ux - ix, fz = uz - iz;
        const float *p = in + (size_t)j * (size_t)(nx * nz), *q = out + (size_t)j * (size_t)(nx * nz);
        if (fabs(fx) < 1e-9 || fabs(fx - 1) < 1e-9) fx = 0, ix = (int64_t)floor(ux + 0.5);
        if (fabs(fz) < 1e-9 || fabs(fz - 1) < 1e-9) fz = 0, iz = (int64_t)floor(uz + 0.5);
        memset(ref, 0, (size_t)(nx * nz) * sizeof(double));
        for (z = 0; z < nz; z++) /* scatter form: each source cell to its four targets */
            for (x = 0; x < nx; x++) {
                int cz, cx;
                for (cz = 0; cz < 2; cz++)
                    for (cx = 0; cx < 2; cx++) {
                        int64_t tz = z + iz + cz, tx = x + ix + cx;
                        if (tz >= 0 && tz < nz && tx >= 0 && tx < nx)
                            ref[tz * nx + tx] += p[z * nx + x] * (cz ? fz : 1 - fz) * (cx ? fx : 1 - fx);
                    }
            }
        for (z = 0; z < nz * nx; z++) {
            double d = fabs(q[z] - ref[z]);
            if (d > worst) {
                worst = d;
                worst_j = j;
            }
        }
    }
    EXPECT_MSG(worst < 1e-6, "largest difference %.3g at theta %d deg", worst, worst_j * 15);
    free(in);
    free(out);
    free(ref);
    mv_transport_free(t);
}

MV_TEST(transport, scatter_kernel_moments)
{
    /* a delta in theta: the result sums to 1 and has the Highland variance
       (theta0 from the standard formula, computed here), mean 0 */
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_transport_grid g;
    float *in, *out;
    int e, j;
    o.nx = 1;
    o.nz = 1;
    o.ntheta = 180;
    o.ne = 6;
    o.e_min = 3;
    o.e_max = 200;
    o.step = 3;
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_get_grid(t, &g));
    in = (float *)calloc((size_t)g.cells, 4);
    out = (float *)malloc((size_t)g.cells * 4);
    REQUIRE(in && out);
    for (e = 0; e < 6; e++) in[e * 180 + 45] = 1; /* theta 90 */
    REQUIRE_OK(mv_transport_apply(t, MV_TRANSPORT_SCATTER, in, out, NULL, NULL));
    for (e = 0; e < 6; e++) {
        double s = 0, m = 0, v = 0, te = g.energy[e], mp = 938.272, pc = sqrt(te * (te + 2 * mp)), beta = pc / (te + mp);
        double x = 0.3 / 36.08, th = 13.6 / (pc * beta) * sqrt(x) * (1 + 0.038 * log(x / (beta * beta)));
        double dth = 2 * TR_PI / 180;
        for (j = 0; j < 180; j++) {
            double d = (j - 45) * dth, f = out[e * 180 + j];
            s += f;
            m += f * d;
            v += f * d * d;
        }
        EXPECT_NEAR(s, 1, 1e-6);
        EXPECT_NEAR(m, 0, 1e-9);
        EXPECT_MSG(fabs(v / (th * th) - 1) < 1e-4, "E %.2f: variance %.6g, Highland theta0^2 %.6g", te, v, th * th);
    }
    free(in);
    free(out);
    mv_transport_free(t);
}

MV_TEST(transport, lateral_spread_fermi_eyges)
{
    /* a pencil beam of 100 MeV in a Bragg-Kleeman medium with Highland
       scattering: the lateral sigma of the fluence at depth against the
       Fermi-Eyges integral of tests/py/ref_transport.py, within 5%. Strang
       splitting; range bins aligned with the half step (exact CSDA) */
    mv_material bk = tr_bk_material();
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_transport_grid g;
    mv_transport_beam b = MV_ZERO_INIT;
    static const double depth[] = {40, 60, 70};
    double e0 = 100, r0 = TR_BK_ALPHA * 10 * pow(e0, TR_BK_P), m0[3] = {0, 0, 0}, m2[3] = {0, 0, 0}, ref[3];
    char args[256], outp[512];
    float *a, *w;
    int s, i;
    if (!tu_python("numpy scipy")) SKIP("python3 with numpy and scipy is needed for the Fermi-Eyges reference");
    snprintf(args, sizeof(args), "%g %g %g %g %g %g 0 %g %g %g", e0, TR_BK_ALPHA, TR_BK_P, 2.0, 36.08, 1.0, depth[0],
             depth[1], depth[2]);
    REQUIRE(tu_run_py("ref_transport.py", args, outp, sizeof(outp)) == 0);
    REQUIRE(sscanf(outp, "%lf %lf %lf", &ref[0], &ref[1], &ref[2]) == 3);
    o.nx = 61;
    o.dx = 0.25;
    o.dz = 2;
    o.step = 2;
    o.nz = (int)(r0 / o.dz) + 3;
    o.ntheta = 72;
    o.ne = 80;
    o.e_min = 1;
    { /* R(e_max) - R(e_min) = ne * step / 2 */
        double rmin = TR_BK_ALPHA * 10 * pow(o.e_min, TR_BK_P);
        o.e_max = pow((rmin + o.ne * o.step / 2) / (TR_BK_ALPHA * 10), 1 / TR_BK_P);
    }
    o.split = MV_SPLIT_STRANG;
    o.fused = 1;
    o.material = &bk;
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_get_grid(t, &g));
    a = (float *)malloc((size_t)g.cells * 4);
    w = (float *)malloc((size_t)g.cells * 4);
    REQUIRE(a && w);
    b.energy = e0;
    REQUIRE_OK(mv_transport_source(t, a, &b));
    for (s = 0; s < (int)(r0 / o.step) + 1; s++) {
        REQUIRE_OK(mv_transport_step(t, &a, &w, NULL, NULL));
        for (i = 0; i < 3; i++) { /* fluence through the row at that depth, summed over steps */
            int k = (int)(depth[i] / o.dz + 0.5), e, j, x;
            for (e = 0; e < o.ne; e++)
                for (j = 0; j < o.ntheta; j++) {
                    const float *r = a + (((size_t)e * o.ntheta + j) * o.nz + k) * o.nx;
                    for (x = 0; x < o.nx; x++) {
                        double xc = (x - 0.5 * (o.nx - 1)) * o.dx;
                        m0[i] += r[x];
                        m2[i] += r[x] * xc * xc;
                    }
                }
        }
    }
    for (i = 0; i < 3; i++) {
        double sig = sqrt(m2[i] / m0[i]);
        EXPECT_MSG(fabs(sig / ref[i] - 1) < 0.05, "depth %g mm: sigma %.4f mm, Fermi-Eyges %.4f (%+.1f%%)", depth[i],
                   sig, ref[i], 100 * (sig / ref[i] - 1));
        EXPECT_MSG(m0[i] > 0.99 && m0[i] < 1.01, "depth %g: fluence %.4f (no escape expected)", depth[i], m0[i]);
    }
    free(a);
    free(w);
    mv_transport_free(t);
}

/* ---- determinism ---------------------------------------------------------------- */

MV_TEST(transport, isa_threads_fused_identical)
{
    /* random fluence on odd sizes; each operator on every ISA = the scalar
       reference, bit for bit; a whole step fused = unfused, 1 thread = 2
       threads (the fluence is over the 4 MiB threading threshold) */
    unsigned avail = mv_isa_available();
    mv_isa saved = mv_isa_active();
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_transport_grid g;
    float *in, *ref, *out, *a, *w;
    double *d_ref, *d;
    int isa, op, split;
    size_t n;
    o.nx = 37;
    o.nz = 29;
    o.ntheta = 36;
    o.ne = 30;
    o.dx = 0.8;
    o.step = 1.3;
    o.e_min = 5;
    o.e_max = 120;
    o.threads = 1;
    REQUIRE_OK(mv_transport_create(&o, &t));
    REQUIRE_OK(mv_transport_get_grid(t, &g));
    n = (size_t)g.cells;
    in = (float *)malloc(n * 4);
    ref = (float *)malloc(n * 4);
    out = (float *)malloc(n * 4);
    a = (float *)malloc(n * 4);
    w = (float *)malloc(n * 4);
    d_ref = (double *)calloc((size_t)(o.nz * o.nx), sizeof(double));
    d = (double *)calloc((size_t)(o.nz * o.nx), sizeof(double));
    REQUIRE(in && ref && out && a && w && d_ref && d);
    REQUIRE(n * 4 > ((size_t)4 << 20));
    tr_fill_random(in, g.cells, 11);
    for (op = 0; op < 3; op++) {
        REQUIRE_OK(mv_set_isa(MV_ISA_REF));
        memset(d_ref, 0, (size_t)(o.nz * o.nx) * sizeof(double));
        REQUIRE_OK(mv_transport_apply(t, (mv_transport_op)op, in, ref, d_ref, NULL));
        for (isa = 1; isa < MV_ISA_COUNT; isa++) {
            if (!(avail >> isa & 1)) continue;
            REQUIRE_OK(mv_set_isa((mv_isa)isa));
            memset(d, 0, (size_t)(o.nz * o.nx) * sizeof(double));
            REQUIRE_OK(mv_transport_apply(t, (mv_transport_op)op, in, out, d, NULL));
            EXPECT_MSG(memcmp(out, ref, n * 4) == 0, "operator %d on %s differs from the reference", op,
                       mv_isa_name((mv_isa)isa));
            EXPECT_MSG(memcmp(d, d_ref, (size_t)(o.nz * o.nx) * sizeof(double)) == 0, "operator %d dose on %s", op,
                       mv_isa_name((mv_isa)isa));
        }
    }
    REQUIRE_OK(mv_set_isa(saved));
    mv_transport_free(t);
    for (split = 0; split < 2; split++) {
        int form;
        mv_transport_balance b0, b1;
        memset(&b0, 0, sizeof(b0));
        for (form = 0; form < 3; form++) { /* unfused 1 thread, fused 1 thread, fused 2 threads */
            mv_transport_opts p = o;
            float *x = a, *y = w;
            int s;
            p.split = split ? MV_SPLIT_STRANG : MV_SPLIT_LIE;
            p.fused = form > 0;
            p.threads = form == 2 ? 2 : 1;
            REQUIRE_OK(mv_transport_create(&p, &t));
            memcpy(x, in, n * 4);
            memset(d, 0, (size_t)(o.nz * o.nx) * sizeof(double));
            for (s = 0; s < 2; s++) REQUIRE_OK(mv_transport_step(t, &x, &y, d, &b1));
            if (form == 0) {
                memcpy(ref, x, n * 4);
                memcpy(d_ref, d, (size_t)(o.nz * o.nx) * sizeof(double));
                b0 = b1;
            } else {
                EXPECT_MSG(memcmp(x, ref, n * 4) == 0, "split %d form %d: fluence differs", split, form);
                EXPECT_MSG(memcmp(d, d_ref, (size_t)(o.nz * o.nx) * sizeof(double)) == 0, "split %d form %d: dose",
                           split, form);
                EXPECT_MSG(memcmp(&b0, &b1, sizeof(b0)) == 0, "split %d form %d: bookkeeping", split, form);
            }
            mv_transport_free(t);
        }
    }
    free(in);
    free(ref);
    free(out);
    free(a);
    free(w);
    free(d_ref);
    free(d);
}

MV_TEST(transport, bad_arguments)
{
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t = NULL;
    mv_material m;
    double e[3] = {1, 2, 3}, s[3] = {10, 5, 3}, v;
    float buf[64];
    EXPECT_STATUS(mv_transport_create(&o, NULL), MV_ERR_INVALID_ARG);
    o.nx = -1;
    EXPECT_STATUS(mv_transport_create(&o, &t), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "nx") != NULL);
    EXPECT(t == NULL);
    o.nx = 4;
    o.step = -1;
    EXPECT_STATUS(mv_transport_create(&o, &t), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "step") != NULL);
    o.step = 0;
    o.e_min = 50;
    o.e_max = 10;
    EXPECT_STATUS(mv_transport_create(&o, &t), MV_ERR_INVALID_ARG);
    o.e_min = o.e_max = 0;
    o.nx = o.nz = o.ntheta = 1 << 16;
    o.ne = 60000;
    EXPECT_STATUS(mv_transport_create(&o, &t), MV_ERR_SIZE_OVERFLOW);
    memset(&o, 0, sizeof(o));
    m.energy = e;
    m.stopping = s;
    m.n = 3;
    m.density = 1;
    m.x0 = 36;
    e[1] = 0.5; /* not ascending */
    o.material = &m;
    EXPECT_STATUS(mv_transport_create(&o, &t), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "energy[1]") != NULL);
    e[1] = 2;
    s[2] = -1;
    EXPECT_STATUS(mv_csda_range(&m, 2, &v), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "stopping[2]") != NULL);
    EXPECT_STATUS(mv_stopping_power(NULL, -1, &v), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_highland(NULL, 100, 1, NULL), MV_ERR_INVALID_ARG);
    memset(&o, 0, sizeof(o));
    o.nx = o.nz = 2;
    o.ntheta = 4;
    o.ne = 2;
    REQUIRE_OK(mv_transport_create(&o, &t));
    {
        mv_transport_beam b = MV_ZERO_INIT;
        float *p = buf, *q = buf + 32, *q2 = buf + 8;
        b.energy = 400; /* above the bins */
        EXPECT_STATUS(mv_transport_source(t, buf, &b), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_transport_step(t, &p, &q2, NULL, NULL), MV_ERR_INVALID_ARG); /* overlap */
        EXPECT(strstr(mv_last_error(), "overlap") != NULL);
        EXPECT_STATUS(mv_transport_step(t, &p, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_transport_apply(t, (mv_transport_op)7, p, q, NULL, NULL), MV_ERR_INVALID_ARG);
    }
    mv_transport_free(t);
    mv_transport_free(NULL);
}
