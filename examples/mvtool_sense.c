/* mvtool_sense.c - BART's classic parallel-imaging tools (bart fakeksp,
   itsense, pocsense, sake) with bart 0.8's arguments and meanings over its 16 axes:

   - fakeksp: k-space of an image seen through coil sensitivities (BART's
     centred unitary transform), optionally with the measured samples put
     back (-r) as BART puts them: in its fftmod'ed domain;
   - itsense: BART's simplified iterative SENSE, CG on (A^H |P|^2 A +
     alpha I) x = A^H conj(P) y, at most 100 steps, stopping at ||r|| <=
     1e-3 ||b|| (mv_cg_solve: BART's conjgrad);
   - pocsense: mv_pocsense (Samsonov's POCSENSE: data consistency, the
     projection onto the maps' range, l2 or joint l1-wavelet shrinkage);
   - sake: mv_sake (Shin's SAKE: low-rank completion of the coils' block
     Hankel matrix, no maps).

   tests/test_tools.sh compares each with bart 0.8 and numpy. */
#include "mvtool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAX 16 /* BART's DIMS */
#define COIL 3  /* BART's COIL_DIM */
#define MAPS 4  /* BART's MAPS_DIM */

/* the file's sizes against the rule of a command: 0, or fail_at's message naming both files and the axis */
static int axis_mismatch(const char *fa, const char *fb, int ax, int64_t na, int64_t nb, const char *why)
{
    return fail_at(mv_set_error(MV_ERR_INVALID_ARG, "'%s' and '%s': axis %d has %lld and %lld samples (%s)", fa, fb, ax,
                                (long long)na, (long long)nb, why),
                   fb);
}

/* The positions of the axes 5..15 of sizes d (axes 0..4 held at 0), one
   at a time: *r the next, 0 when done (start with r zeroed). */
static int next_rest(int64_t r[NAX], const int64_t d[NAX])
{
    int64_t dr[NAX];
    int ax;
    for (ax = 0; ax < NAX; ax++) dr[ax] = ax < 5 ? 1 : d[ax];
    return next16(r, dr);
}

/* coil images c[coil] = sum over maps of S[coil, map] x[map], every
   position of the other axes (5..15; sens broadcast where it has 1):
   offsets per position of those axes, flat loops over voxels inside */
static void coil_images(const float *S, const int64_t sd[NAX], const float *x, const int64_t xd[NAX], float *c,
                        const int64_t cd[NAX])
{
    const int64_t nvox = cd[0] * cd[1] * cd[2], nc = cd[3], nm = sd[MAPS];
    int64_t r[NAX], v, k, m;
    memset(r, 0, sizeof(r));
    memset(c, 0, (size_t)count16(cd) * 8);
    do {
        const float *s0 = S + 2 * offset16(r, sd), *x0 = x + 2 * offset16(r, xd);
        float *c0 = c + 2 * offset16(r, cd);
        for (k = 0; k < nc; k++)
            for (m = 0; m < nm; m++) {
                const float *s = s0 + 2 * nvox * (k + nc * m), *xv = x0 + 2 * nvox * m;
                float *o = c0 + 2 * nvox * k;
                for (v = 0; v < nvox; v++) {
                    o[2 * v] += s[2 * v] * xv[2 * v] - s[2 * v + 1] * xv[2 * v + 1];
                    o[2 * v + 1] += s[2 * v] * xv[2 * v + 1] + s[2 * v + 1] * xv[2 * v];
                }
            }
    } while (next_rest(r, cd));
}

/* ---- fakeksp ---- */

/* fakeksp [-r] IMAGE KSPACE SENS OUT (bart fakeksp): OUT = fftmod(F(fftmod(S) x))
   with F BART's unitary FFT over axes 0..2, as sense_init's model; -r: in
   BART's fftmod'ed domain, where KSPACE has a sample (any coil) its value
   fftmod(KSPACE) stands, then the whole is fftmod'ed again (so on axes of n
   = 2 mod 4 or odd n bart's measured samples come back turned, as bart's) */
static int cmd_fakeksp(const args *a)
{
    int64_t id[NAX], kd[NAX], sd[NAX], cd[NAX];
    mv_vol img, ksp, sens, out;
    int rc, ax;
    mv_status st;
    if ((rc = cfl_load_mapped(a->pos[0], &img, id))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &ksp, kd))) {
        mv_free(&img);
        return rc;
    }
    if ((rc = cfl_load_folded(a->pos[2], &sens, sd))) {
        mv_free(&img);
        mv_free(&ksp);
        return rc;
    }
    rc = 0;
    for (ax = 0; ax < 4 && !rc; ax++)
        if (kd[ax] != sd[ax]) rc = axis_mismatch(a->pos[1], a->pos[2], ax, kd[ax], sd[ax], "k-space and maps must match in 0..3");
    if (!rc && kd[MAPS] != 1) rc = axis_mismatch(a->pos[1], a->pos[1], MAPS, kd[MAPS], 1, "k-space holds one map");
    if (!rc && id[COIL] != 1) rc = axis_mismatch(a->pos[0], a->pos[0], COIL, id[COIL], 1, "the image holds no coils");
    if (!rc && id[MAPS] != sd[MAPS]) rc = axis_mismatch(a->pos[0], a->pos[2], MAPS, id[MAPS], sd[MAPS], "one image per map");
    for (ax = 0; ax < 3 && !rc; ax++)
        if (id[ax] != sd[ax]) rc = axis_mismatch(a->pos[0], a->pos[2], ax, id[ax], sd[ax], "the image's grid is the maps'");
    for (ax = 5; ax < NAX && !rc; ax++) {
        if (id[ax] != kd[ax]) rc = axis_mismatch(a->pos[0], a->pos[1], ax, id[ax], kd[ax], "frames of the image and k-space");
        else if (sd[ax] != 1 && sd[ax] != id[ax]) rc = axis_mismatch(a->pos[0], a->pos[2], ax, id[ax], sd[ax], "maps per frame or shared");
    }
    if (!rc && (rc = alloc16(&out, kd, a->pos[3])) == 0) {
        memcpy(cd, kd, sizeof(cd));
        st = mv_fftmod(sens.data, sens.data, NAX, sd, 7u, 0, NULL);
        if (st == MV_OK) {
            coil_images((const float *)sens.data, sd, (const float *)img.data, id, (float *)out.data, cd);
            st = bart_fft_samples((float *)out.data, kd, 7u, 0, MV_FFT_ORTHO, 0);
        }
        if (st == MV_OK && opt_flag(a, "-r")) { /* BART's replace_kspace: data_consistency in the fftmod'ed domain */
            const int64_t vox = kd[0] * kd[1] * kd[2], nc = kd[COIL], rest = count16(kd) / (vox * nc);
            float *o = (float *)out.data, *k = (float *)ksp.data;
            int64_t r, v, c;
            st = mv_fftmod(k, k, NAX, kd, 7u, 0, NULL);
            for (r = 0; r < rest && st == MV_OK; r++)
                for (v = 0; v < vox; v++) {
                    const int64_t base = r * vox * nc + v;
                    double rss = 0.;
                    for (c = 0; c < nc; c++)
                        rss += (double)k[2 * (base + c * vox)] * k[2 * (base + c * vox)] +
                               (double)k[2 * (base + c * vox) + 1] * k[2 * (base + c * vox) + 1];
                    if (rss == 0.) continue;
                    for (c = 0; c < nc; c++) { /* dst - dst * 1 + k * 1, as BART's float steps */
                        float *d = o + 2 * (base + c * vox);
                        d[0] = (d[0] - d[0]) + k[2 * (base + c * vox)];
                        d[1] = (d[1] - d[1]) + k[2 * (base + c * vox) + 1];
                    }
                }
        }
        if (st == MV_OK) st = mv_fftmod(out.data, out.data, NAX, kd, 7u, 0, NULL);
        if (st != MV_OK) {
            mv_free(&out);
            rc = fail_at(st, a->pos[3]);
        } else rc = cfl_save_dims(a->pos[3], &out, kd);
    }
    mv_free(&img);
    mv_free(&ksp);
    mv_free(&sens);
    return rc;
}

/* ---- itsense ---- */

typedef struct itsense_op {
    const float *S, *P;           /* maps, pattern */
    int64_t sd[NAX], pd[NAX], kd[NAX], xd[NAX];
    float *tmp;                   /* k-space sized */
} itsense_op;

/* tmp times the pattern (complex, broadcast over the coils), conjugated or not */
static void itsense_pattern(itsense_op *o, int conj)
{
    const int64_t nvox = o->kd[0] * o->kd[1] * o->kd[2], nc = o->kd[COIL];
    int64_t r[NAX], v, k;
    memset(r, 0, sizeof(r));
    do {
        const float *w = o->P + 2 * offset16(r, o->pd);
        float *t0 = o->tmp + 2 * offset16(r, o->kd);
        for (k = 0; k < nc; k++) {
            float *t = t0 + 2 * nvox * k;
            for (v = 0; v < nvox; v++) {
                const float wr = w[2 * v], wi = conj ? -w[2 * v + 1] : w[2 * v + 1];
                const float re = t[2 * v] * wr - t[2 * v + 1] * wi;
                t[2 * v + 1] = t[2 * v] * wi + t[2 * v + 1] * wr;
                t[2 * v] = re;
            }
        }
    } while (next_rest(r, o->kd));
}

/* tmp = P F(S x) (forward), with F BART's centred unitary FFT (fftc, fftscale) */
static mv_status itsense_forward(itsense_op *o, const float *x)
{
    mv_status st;
    coil_images(o->S, o->sd, x, o->xd, o->tmp, o->kd);
    st = bart_fft_samples(o->tmp, o->kd, 7u, 0, MV_FFT_ORTHO, 1);
    itsense_pattern(o, 0);
    return st;
}

/* x = S^H F^-1 (conj(P) tmp) */
static mv_status itsense_adjoint(itsense_op *o, float *x)
{
    const int64_t nvox = o->kd[0] * o->kd[1] * o->kd[2], nc = o->kd[COIL], nm = o->sd[MAPS];
    int64_t r[NAX], v, k, m;
    mv_status st;
    itsense_pattern(o, 1);
    st = bart_fft_samples(o->tmp, o->kd, 7u, 1, MV_FFT_ORTHO, 1);
    memset(x, 0, (size_t)count16(o->xd) * 8);
    memset(r, 0, sizeof(r));
    do { /* x[map] += conj(S[coil, map]) tmp[coil] */
        const float *s0 = o->S + 2 * offset16(r, o->sd), *t0 = o->tmp + 2 * offset16(r, o->kd);
        float *x0 = x + 2 * offset16(r, o->xd);
        for (m = 0; m < nm; m++)
            for (k = 0; k < nc; k++) {
                const float *s = s0 + 2 * nvox * (k + nc * m), *t = t0 + 2 * nvox * k;
                float *xv = x0 + 2 * nvox * m;
                for (v = 0; v < nvox; v++) {
                    xv[2 * v] += s[2 * v] * t[2 * v] + s[2 * v + 1] * t[2 * v + 1];
                    xv[2 * v + 1] += s[2 * v] * t[2 * v + 1] - s[2 * v + 1] * t[2 * v];
                }
            }
    } while (next_rest(r, o->kd));
    return st;
}

static mv_status itsense_normal(void *user, const float *in, float *out, int64_t n)
{
    itsense_op *o = (itsense_op *)user;
    mv_status st = itsense_forward(o, in);
    (void)n;
    return st == MV_OK ? itsense_adjoint(o, out) : st;
}

/* itsense ALPHA SENS KSPACE PATTERN OUT (bart itsense) */
static int cmd_itsense(const args *a)
{
    itsense_op o;
    mv_vol sens, ksp, pat, out;
    float alpha;
    char *end;
    int rc, ax;
    mv_cg_opts co;
    mv_status st;
    float *b;
    alpha = strtof(a->pos[0], &end);
    if (end == a->pos[0] || *end || !isfinite(alpha) || alpha < 0) return usage_error(a, "ALPHA: a float >= 0", a->pos[0]);
    memset(&o, 0, sizeof(o));
    if ((rc = cfl_load_mapped(a->pos[1], &sens, o.sd))) return rc;
    if ((rc = cfl_load_folded(a->pos[2], &ksp, o.kd))) {
        mv_free(&sens);
        return rc;
    }
    if ((rc = cfl_load_mapped(a->pos[3], &pat, o.pd))) {
        mv_free(&sens);
        mv_free(&ksp);
        return rc;
    }
    /* BART's check_dimensions; its operator runs over the maps' axes, so the k-space's other axes must be theirs */
    rc = 0;
    for (ax = 0; ax < NAX && !rc; ax++) {
        const int64_t want_k = ax == MAPS ? 1 : o.sd[ax];
        const int pat_ok = ax < 3 ? o.pd[ax] == o.sd[ax] : ax <= MAPS ? o.pd[ax] == 1 : o.pd[ax] == 1 || o.pd[ax] == o.sd[ax];
        if (o.kd[ax] != want_k) rc = axis_mismatch(a->pos[1], a->pos[2], ax, o.sd[ax], o.kd[ax], "k-space: the maps' sizes, one map");
        else if (!pat_ok) rc = axis_mismatch(a->pos[1], a->pos[3], ax, o.sd[ax], o.pd[ax], "the pattern: the maps' grid, no coils or maps");
    }
    memcpy(o.xd, o.sd, sizeof(o.xd));
    o.xd[COIL] = 1;
    if (!rc && (rc = alloc16(&out, o.xd, a->pos[4])) == 0) {
        const int64_t nx = count16(o.xd);
        o.S = (const float *)sens.data;
        o.P = (const float *)pat.data;
        o.tmp = (float *)ksp.data; /* the k-space itself is the first adjoint's input */
        b = (float *)malloc((size_t)nx * 8);
        if (!b) {
            mv_free(&out);
            rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "itsense: %lld samples", (long long)nx), a->pos[4]);
        } else {
            st = itsense_adjoint(&o, b);
            memset(&co, 0, sizeof(co));
            co.lambda = alpha;
            co.iterations = 100;  /* BART itsense's conf.maxiter */
            co.tolerance = 1e-3;  /* its conf.tol: ||r|| <= tol ||b|| */
            co.threads = 1;       /* the operator is one job (its FFTs thread themselves) */
            if (st == MV_OK) st = mv_cg_solve(itsense_normal, &o, b, (float *)out.data, nx, &co);
            free(b);
            if (st != MV_OK) {
                mv_free(&out);
                rc = fail_at(st, a->pos[4]);
            } else rc = cfl_save_dims(a->pos[4], &out, o.xd);
        }
    }
    mv_free(&sens);
    mv_free(&ksp);
    mv_free(&pat);
    return rc;
}

/* ---- pocsense ---- */

/* pocsense [-i N] [-r ALPHA] [-l 1|2] [-o LAMBDA] [-g] [-m RHO] KSPACE SENS OUT (bart pocsense) */
static int cmd_pocsense(const args *a)
{
    mv_pocsense_opts po;
    int64_t kd[NAX], sd[NAX], l1 = 2, iters = 50;
    mv_vol ksp, sens;
    int rc, ax;
    const char *w;
    float f;
    mv_status st;
    memset(&po, 0, sizeof(po));
    if ((w = opt_str(a, "-i")) && (rc = arg_int(a, w, 1, 1000000, "-i: iterations >= 1", &iters))) return rc;
    if ((w = opt_str(a, "-l")) && (rc = arg_int(a, w, 1, 2, "-l: 1 (l1-wavelet) or 2 (l2)", &l1))) return rc;
    if (opt_str(a, "-r")) {
        if ((rc = opt_floats(a, "-r", &f, 1))) return rc;
        if (!(f >= 0)) return usage_error(a, "-r: alpha >= 0", opt_str(a, "-r"));
        po.alpha = f;
    }
    if (opt_str(a, "-o")) { /* bart's hidden robust consistency: -1 (its default) is off */
        if ((rc = opt_floats(a, "-o", &f, 1))) return rc;
        if (f != -1.f) {
            if (!(f >= 0)) return usage_error(a, "-o: a threshold >= 0 (or -1: off)", opt_str(a, "-o"));
            po.robust = 1;
            po.robust_lambda = f;
        }
    }
    if (opt_flag(a, "-g")) fprintf(stderr, "mvtool pocsense: -g noted; this runs on the CPU\n");
    po.iterations = (int)iters;
    po.l1_wavelet = l1 == 1;
    if ((rc = cfl_load_folded(a->pos[0], &ksp, kd))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &sens, sd))) {
        mv_free(&ksp);
        return rc;
    }
    rc = 0;
    for (ax = 0; ax < NAX && !rc; ax++) {
        if (ax < 4 && kd[ax] != sd[ax]) rc = axis_mismatch(a->pos[0], a->pos[1], ax, kd[ax], sd[ax], "k-space and maps must match in 0..3");
        else if (ax >= 4 && kd[ax] != 1) rc = axis_mismatch(a->pos[0], a->pos[0], ax, kd[ax], 1, "one volume of coils");
        else if (ax > 4 && sd[ax] != 1) rc = axis_mismatch(a->pos[1], a->pos[1], ax, sd[ax], 1, "maps (x, y, z, C, M)");
    }
    if (!rc) {
        st = mv_pocsense(&ksp, &sens, &ksp, &po);
        if (st != MV_OK) {
            mv_free(&ksp);
            rc = fail_at(st, a->pos[0]);
        } else rc = cfl_save_dims(a->pos[2], &ksp, kd);
    } else mv_free(&ksp);
    mv_free(&sens);
    return rc;
}

/* ---- sake ---- */

/* sake [-i N] [-s ALPHA] [-o LAMBDA] KSPACE OUT (bart sake) */
static int cmd_sake(const args *a)
{
    mv_sake_opts so;
    int64_t kd[NAX], iters = 50;
    mv_vol ksp;
    int rc;
    const char *w;
    float f;
    mv_status st;
    memset(&so, 0, sizeof(so));
    if ((w = opt_str(a, "-i")) && (rc = arg_int(a, w, 0, 1000000, "-i: iterations >= 0", &iters))) return rc;
    if (opt_str(a, "-s")) {
        if ((rc = opt_floats(a, "-s", &f, 1))) return rc;
        if (!(f >= 0 && f <= 1)) return usage_error(a, "-s: the relative size of the signal subspace, 0 .. 1", opt_str(a, "-s"));
        so.alpha = f, so.alpha_set = 1;
    }
    if (opt_str(a, "-o")) {
        if ((rc = opt_floats(a, "-o", &f, 1))) return rc;
        if (!(f >= 0 && f <= 1)) return usage_error(a, "-o: the consistency threshold, 0 .. 1 (bart asserts)", opt_str(a, "-o"));
        so.lambda = f, so.lambda_set = 1;
    }
    if ((rc = cfl_load_folded(a->pos[0], &ksp, kd))) return rc;
    if (kd[MAPS] != 1) {
        mv_free(&ksp);
        return axis_mismatch(a->pos[0], a->pos[0], MAPS, kd[MAPS], 1, "BART's maps axis must be 1");
    }
    if (iters > 0) { /* -i 0: the data as they are, as bart's */
        so.iterations = (int)iters;
        st = mv_sake(&ksp, &ksp, &so);
        if (st != MV_OK) {
            mv_free(&ksp);
            return fail_at(st, a->pos[0]);
        }
    }
    return cfl_save_dims(a->pos[1], &ksp, kd);
}

const command mvtool_sense_commands[] = {
    {"fakeksp", "k-space of an image through coil sensitivities (bart fakeksp)",
     "mvtool fakeksp [-r] IMAGE KSPACE SENS OUT\n"
     "  bart fakeksp: OUT (KSPACE's sizes) = BART's centred unitary FFT over axes 0..2 of the\n"
     "  coil images sum_m SENS x_m; -r: KSPACE's sampled positions (any coil) put back\n"
     "  as bart puts them, in its fftmod'ed domain.\n",
     "-r", 4, 4, cmd_fakeksp},
    {"itsense", "simplified iterative SENSE with l2 regularisation (bart itsense)",
     "mvtool itsense ALPHA SENS KSPACE PATTERN OUT\n"
     "  bart itsense: CG (at most 100 steps, stop at ||r|| <= 1e-3 ||b||) on\n"
     "  (A^H |P|^2 A + ALPHA I) x = A^H conj(P) KSPACE, A = BART's centred unitary FFT of\n"
     "  SENS x, P = PATTERN (x, y, z); no data scaling. OUT: SENS's sizes without coils.\n",
     "", 5, 5, cmd_itsense},
    {"pocsense", "POCSENSE reconstruction (bart pocsense)",
     "mvtool pocsense [-i ITER] [-r ALPHA] [-l 1|2] [-o LAMBDA] KSPACE SENS OUT\n"
     "  bart pocsense (mv_pocsense): from zero, ITER (50) rounds of data consistency, the\n"
     "  projection onto SENS's range and, with ALPHA > 0, the l2 shrink (-l 2) or the coils'\n"
     "  wavelet coefficients soft-thresholded jointly (-l 1); on the k-space over BART's data\n"
     "  scale, in its fftmod'ed domain. OUT: the coils' k-space. -o: bart's hidden robust\n"
     "  consistency; -g, -m accepted as bart's (CPU; no ADMM there either).\n",
     "-i= -r= -l= -o= -g -m=", 3, 3, cmd_pocsense},
    {"sake", "SAKE: calibrationless low-rank k-space completion (bart sake)",
     "mvtool sake [-i ITER] [-s ALPHA] [-o LAMBDA] KSPACE OUT\n"
     "  bart sake (mv_sake): ITER (50) rounds of BART's robust consistency (threshold LAMBDA, 1),\n"
     "  the block Hankel matrix (blocks of 6 x all coils) cut to rank ALPHA (0.22) of its size,\n"
     "  the blocks averaged back, and BART's FISTA step. OUT: the completed k-space.\n",
     "-i= -s= -o=", 2, 2, cmd_sake},
};
const int mvtool_sense_ncommands = (int)(sizeof(mvtool_sense_commands) / sizeof(mvtool_sense_commands[0]));
