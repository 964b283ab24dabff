/* mvtool_image.c - the image family of mvtool: BART's commands that turn
   arrays into pictures, masks and numbers about regions (bart toimg,
   pol2mask, morphop, roistat, poly, fftrot), with bart 0.8's arguments and meaning
   over BART's 16 axes (tests/test_tools.sh runs each against bart):

   - toimg: PNG files through mv_png_save, bart's pixel values (its
     scaling, truncation and windowing; RGB as bart writes them);
   - pol2mask: each pixel's winding number, summed over the polygons;
   - morphop: bart's cyclic box erosion and dilation (a threshold on the
     box sum, so bart's bytes for binary input);
   - roistat: sums, means and (co)variances inside weighted regions, in
     float64 (bart's float sums within rounding), bart's table when no
     statistic is chosen;
   - poly: a polynomial at 0 .. L - 1, with the same float operations as
     bart (bart's bytes);
   - fftrot: a rotation by three Fourier shears (Paeth's), bart's phases. */
#include "mvtool.h"
#include <complex.h> /* poly: cpowf as bart calls it; roistat's complex sums */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAX 16 /* BART's DIMS */

/* the complex numbers of float pairs, without x + I * y (whose 0 * inf
   would turn an infinite part into NaN) */
static float complex zf(const float *p)
{
    float complex z;
    memcpy(&z, p, sizeof(z));
    return z;
}
static double complex zd(const float *p)
{
    double complex z;
    double re_im[2];
    re_im[0] = p[0], re_im[1] = p[1];
    memcpy(&z, re_im, sizeof(z));
    return z;
}

/* ---- poly ---- */

/* poly L N A_1 .. A_N+1 OUT (bart poly): p(x) = A_1 + A_2 x + .. at x = 0 .. L - 1 */
static int cmd_poly(const args *a)
{
    int64_t L, N, bd[NAX], x, k;
    float as[64];
    mv_vol o;
    float complex *p;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 1, 256 * 256, "L: 1 .. 65536 points", &L))) return rc;
    if ((rc = arg_int(a, a->pos[1], 0, 62, "N: the degree, 0 .. 62", &N))) return rc;
    if (N + 1 > L) return usage_error(a, "N + 1 coefficients need L >= N + 1 points", a->pos[1]);
    if (a->npos != N + 4) return usage_error(a, "N + 1 coefficients and OUT after L and N", a->pos[a->npos - 1]);
    for (k = 0; k <= N; k++) {
        char *end;
        as[k] = strtof(a->pos[2 + k], &end);
        if (end == a->pos[2 + k] || *end) return usage_error(a, "a coefficient", a->pos[2 + k]);
    }
    ones16(bd);
    bd[0] = L;
    if ((rc = alloc16(&o, bd, a->pos[a->npos - 1]))) return rc;
    p = (float complex *)o.data;
    for (x = 0; x < L; x++) { /* bart's expression: the float complex power of x, then the product */
        p[x] = (float complex)as[0];
        for (k = 1; k < N + 1; k++) p[x] += ((float complex)as[k]) * cpowf((float complex)(float)x, (float complex)(float)k);
    }
    return cfl_save_dims(a->pos[a->npos - 1], &o, bd);
}

/* ---- pol2mask ---- */

/* Dan Sunday's winding number of pixel (px, py) for the closed polygon of
   n vertices, vertex i's x at v[4 i] and y at v[4 i + 2] (complex samples:
   the real parts of (x, y) pairs): +1 for each upward crossing with the
   pixel on its left, -1 for each downward one with it on the right (bart's
   polygon_winding_number, in double) */
static int winding_number(const float *v, int64_t n, double px, double py)
{
    int w = 0;
    int64_t i;
    for (i = 0; i < n; i++) {
        const int64_t j = (i + 1) % n;
        const double x0 = v[4 * i], y0 = v[4 * i + 2], x1 = v[4 * j], y1 = v[4 * j + 2];
        const double o = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0);
        if (y0 <= py) {
            if (y1 > py && o > 0.) w++;
        } else if (y1 <= py && o < 0.) w--;
    }
    return w;
}

/* pol2mask [-X N] [-Y N] POLY OUT (bart pol2mask): POLY (2, vertices,
   polygons, ...) of real (x, y) pixel positions; OUT (X, Y, 1, ...) the sum
   of the winding numbers of all polygons at each pixel (bart 0.8 and 1.0
   read the first polygon once per polygon: the same when there is one) */
static int cmd_pol2mask(const args *a)
{
    int64_t X = 100, Y = 100, pd[NAX], od[NAX], c[NAX], pc[NAX];
    mv_vol poly, o;
    float *out;
    const float *pv;
    int rc;
    const char *w;
    if ((w = opt_str(a, "-X")) && (rc = arg_int(a, w, 1, MVT_BIG, "-X: a size >= 1", &X))) return rc;
    if ((w = opt_str(a, "-Y")) && (rc = arg_int(a, w, 1, MVT_BIG, "-Y: a size >= 1", &Y))) return rc;
    if ((rc = cfl_load_mapped(a->pos[0], &poly, pd))) return rc;
    if (pd[0] != 2) {
        mv_free(&poly);
        return fail_at(mv_set_error(MV_ERR_INVALID_ARG, "'%s': axis 0 has %lld samples, (x, y) needs 2", a->pos[0],
                                    (long long)pd[0]), a->pos[0]);
    }
    memcpy(od, pd, sizeof(od));
    od[0] = X, od[1] = Y, od[2] = 1;
    if (X > MVT_BIG / Y || count16(od) > MVT_BIG / (pd[1] * pd[2] + 1)) {
        mv_free(&poly);
        return usage_error(a, "X * Y pixels times the polygons' vertices: too much work", opt_str(a, "-X"));
    }
    if ((rc = alloc16(&o, od, a->pos[1]))) {
        mv_free(&poly);
        return rc;
    }
    out = (float *)o.data;
    pv = (const float *)poly.data;
    memset(c, 0, sizeof(c));
    do { /* every pixel of every outer position */
        int64_t i, sum = 0;
        memcpy(pc, c, sizeof(pc));
        pc[0] = pc[1] = pc[2] = 0;
        for (i = 0; i < pd[2]; i++) {
            pc[2] = i; /* polygon i's vertices along axis 1, two samples each */
            sum += winding_number(pv + 2 * offset16(pc, pd), pd[1], (double)c[0], (double)c[1]);
        }
        out[2 * offset16(c, od)] = (float)sum;
    } while (next16(c, od));
    mv_free(&poly);
    return cfl_save_dims(a->pos[1], &o, od);
}

/* ---- morphop ---- */

/* BART's box sum along one axis of n samples (stride s, `lines` lines
   along it, each line starting at line_start(k)), kernel size m: the
   centred window [i - h, i + h] (h = (m - 1) / 2) wrapped around the axis;
   an axis shorter than m sums min(m, n) consecutive samples from i + h
   down (BART's cyclic convolution truncates the kernel to the axis and
   turns it: the whole axis once). In place, double precision (exact for
   the counts of binary input). */
static void box_sum_axis(double *v, int64_t n, int64_t s, int64_t blocks, int64_t block_step, int64_t inner,
                         int64_t m, double *line)
{
    const int64_t h = (m - 1) / 2, taps = m < n ? m : n;
    int64_t b, q, i, j;
    for (b = 0; b < blocks; b++)
        for (q = 0; q < inner; q++) {
            double *p = v + b * block_step + q;
            for (i = 0; i < n; i++) line[i] = p[i * s];
            for (i = 0; i < n; i++) {
                double acc = 0.0;
                for (j = 0; j < taps; j++) acc += line[(((i + h - j) % n) + n) % n];
                p[i * s] = acc;
            }
        }
}

/* out = 1 where the box sum of IN's real parts over an m x m block of axes
   0 and 1 reaches the threshold: erosion (m^2 (1 - 1e-5): every sample of a
   binary block) or dilation (1 - m^2 1e-5: any sample), as bart's
   md_zsgreatequal against its float threshold */
static int morph_pass(float *x, const int64_t bd[NAX], int64_t m, int erode)
{
    const int64_t n0 = bd[0], n1 = bd[1], plane = n0 * n1, planes = count16(bd) / plane;
    const float thr = erode ? (float)((1 - 0.00001) * (double)(float)(m * m)) : (float)(1 - (double)(float)(m * m) * 0.00001);
    double *v = (double *)malloc((size_t)(plane * planes) * sizeof(double));
    double *line = (double *)malloc((size_t)(n0 > n1 ? n0 : n1) * sizeof(double));
    int64_t i;
    if (!v || !line) {
        free(v);
        free(line);
        return 1;
    }
    for (i = 0; i < plane * planes; i++) v[i] = x[2 * i];
    box_sum_axis(v, n0, 1, planes * n1, n0, 1, m, line);    /* along axis 0: each line of each plane */
    box_sum_axis(v, n1, n0, planes, plane, n0, m, line);    /* along axis 1 */
    for (i = 0; i < plane * planes; i++) {
        x[2 * i] = v[i] >= (double)thr ? 1.0f : 0.0f;
        x[2 * i + 1] = 0.0f;
    }
    free(v);
    free(line);
    return 0;
}

/* morphop [-e | -d | -o | -c] SIZE IN [OUT] (bart morphop): erosion
   (default), dilation, opening (erosion, then dilation), closing (the
   reverse) with an odd SIZE x SIZE block in axes 0 and 1, cyclic */
static int cmd_morphop(const args *a)
{
    int64_t m, bd[NAX];
    int op = 'e', i, rc, k;
    mv_vol x;
    for (i = 0; i < a->nopt; i++) op = a->opt_name[i][1]; /* bart's OPT_SELECT: the last one given */
    if ((rc = arg_int(a, a->pos[0], 1, 65535, "SIZE: an odd mask size", &m))) return rc;
    if (m % 2 != 1) return usage_error(a, "SIZE must be odd (bart asserts)", a->pos[0]);
    if ((rc = cfl_load_folded(a->pos[1], &x, bd))) return rc;
    for (k = 0; k < 2; k++) { /* opening and closing: two passes */
        int erode = op == 'e' || (op == 'o' && k == 0) || (op == 'c' && k == 1);
        if ((op == 'e' || op == 'd') && k == 1) break;
        if (morph_pass((float *)x.data, bd, m, erode)) {
            mv_free(&x);
            return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "morphop: box sums of '%s'", a->pos[1]), a->pos[1]);
        }
    }
    if (a->npos < 3) { /* bart: the output is optional */
        mv_free(&x);
        return 0;
    }
    return cfl_save_dims(a->pos[2], &x, bd);
}

/* ---- roistat ---- */

enum { RS_ALL, RS_COUNT, RS_SUM, RS_MEAN, RS_STD, RS_VAR, RS_ENERGY };

/* the statistic of each output position: count = sum r, sum = sum r x,
   mean = sum / count (0 where the count is 0, as BART's zdiv), energy =
   sum |(x - mean) r|^2, variance = energy / (count - b), std = its root */
typedef struct roi_sums {
    double complex *pat, *sum, *var;
} roi_sums;

static void roi_accumulate(roi_sums *r, const float *roi, const int64_t rd[NAX], const float *in, const int64_t id[NAX],
                           const int64_t md[NAX], const int64_t od[NAX], int pass)
{
    int64_t c[NAX];
    memset(c, 0, sizeof(c));
    do {
        const int64_t ro = offset16(c, rd), io = offset16(c, id), oo = offset16(c, od);
        const double complex w = zd(roi + 2 * ro), v = zd(in + 2 * io);
        if (pass == 0) {
            r->pat[oo] += w;
            r->sum[oo] += w * v;
        } else {
            const double complex t = (v - r->sum[oo]) * w; /* sum holds the mean by now */
            r->var[oo] += creal(t) * creal(t) + cimag(t) * cimag(t);
        }
    } while (next16(c, md));
}

static double complex zdiv0(double complex a, double complex b) { return b == 0 ? 0 : a / b; }

/* bart's table: per position of the ROI's own axes its position, then mean, std, count per input position */
static void roi_print(const roi_sums *r, const int64_t od[NAX], const int64_t rd[NAX], const int64_t id[NAX])
{
    int64_t ro[NAX], io[NAX], c[NAX];
    int ax;
    for (ax = 0; ax < NAX; ax++) {
        ro[ax] = rd[ax] > 1 ? od[ax] : 1; /* the ROI's axes kept in OUT */
        io[ax] = id[ax] > 1 ? od[ax] : 1;
    }
    memset(c, 0, sizeof(c));
    do {
        int64_t ci[NAX];
        printf("[");
        for (ax = 0; ax < NAX; ax++) printf("%3lld ", (long long)c[ax]);
        printf("]\n");
        printf("#%12s\t%6s\t%6s\n", "mean", "std", "count");
        memset(ci, 0, sizeof(ci));
        do {
            int64_t p[NAX], oo;
            for (ax = 0; ax < NAX; ax++) p[ax] = c[ax] + ci[ax];
            oo = offset16(p, od);
            printf("%+6.3f%+.3fi\t%.3f\t%6ld\n", (float)creal(r->sum[oo]), (float)cimag(r->sum[oo]), (float)creal(r->var[oo]),
                   (long)(float)creal(r->pat[oo]));
        } while (next16(ci, io));
    } while (next16(c, ro));
}

/* roistat [-b] [-C | -S | -M | -D | -E | -V] ROI IN [OUT] (bart roistat) */
static int cmd_roistat(const args *a)
{
    int64_t rd[NAX], id[NAX], md[NAX], od[NAX], n, i;
    int stat = RS_ALL, bessel = opt_flag(a, "-b"), ax, rc;
    mv_vol roi, in, o;
    roi_sums r;
    for (i = 0; i < a->nopt; i++) {
        const char c = a->opt_name[i][1];
        if (c != 'b') stat = c == 'C' ? RS_COUNT : c == 'S' ? RS_SUM : c == 'M' ? RS_MEAN : c == 'D' ? RS_STD : c == 'V' ? RS_VAR : RS_ENERGY;
    }
    if (bessel && stat != RS_STD && stat != RS_VAR)
        return usage_error(a, "Bessel's correction only with -D or -V (bart refuses it otherwise)", "-b");
    if (stat == RS_ALL && a->npos == 3) return usage_error(a, "OUT needs a statistic (-C -S -M -D -E -V)", a->pos[2]);
    if ((rc = cfl_load_mapped(a->pos[0], &roi, rd))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &in, id))) {
        mv_free(&roi);
        return rc;
    }
    for (ax = 0; ax < NAX; ax++) {
        if (rd[ax] != id[ax] && rd[ax] != 1 && id[ax] != 1) {
            mv_free(&roi);
            mv_free(&in);
            return fail_at(mv_set_error(MV_ERR_INVALID_ARG, "'%s' and '%s': axis %d has %lld and %lld samples", a->pos[0],
                                        a->pos[1], ax, (long long)rd[ax], (long long)id[ax]), a->pos[1]);
        }
        md[ax] = rd[ax] > id[ax] ? rd[ax] : id[ax];
        od[ax] = (rd[ax] > 1) != (id[ax] > 1) ? md[ax] : 1; /* axes in only one of them stay; the shared ones are summed */
    }
    n = count16(od);
    r.pat = (double complex *)calloc((size_t)n, sizeof(double complex));
    r.sum = (double complex *)calloc((size_t)n, sizeof(double complex));
    r.var = (double complex *)calloc((size_t)n, sizeof(double complex));
    if (!r.pat || !r.sum || !r.var) {
        free(r.pat), free(r.sum), free(r.var);
        mv_free(&roi);
        mv_free(&in);
        return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "roistat: %lld sums", (long long)n), a->pos[1]);
    }
    roi_accumulate(&r, (const float *)roi.data, rd, (const float *)in.data, id, md, od, 0);
    if (stat != RS_COUNT && stat != RS_SUM) {
        for (i = 0; i < n; i++) r.sum[i] = zdiv0(r.sum[i], r.pat[i]);
        if (stat != RS_MEAN) {
            roi_accumulate(&r, (const float *)roi.data, rd, (const float *)in.data, id, md, od, 1);
            for (i = 0; i < n && stat != RS_ENERGY; i++) {
                r.var[i] = zdiv0(r.var[i], r.pat[i] - (bessel ? 1 : 0));
                if (stat != RS_VAR) r.var[i] = csqrt(r.var[i]);
            }
        }
    }
    mv_free(&roi);
    mv_free(&in);
    if (stat == RS_ALL) roi_print(&r, od, rd, id);
    rc = 0;
    if (stat != RS_ALL && a->npos == 3 && (rc = alloc16(&o, od, a->pos[2])) == 0) {
        const double complex *src = stat == RS_COUNT ? r.pat : stat == RS_SUM || stat == RS_MEAN ? r.sum : r.var;
        float *d = (float *)o.data;
        for (i = 0; i < n; i++) d[2 * i] = (float)creal(src[i]), d[2 * i + 1] = (float)cimag(src[i]);
        rc = cfl_save_dims(a->pos[2], &o, od);
    }
    free(r.pat), free(r.sum), free(r.var);
    return rc;
}

/* ---- toimg ---- */

typedef struct toimg_job {
    const float *data;  /* the samples */
    int64_t h, w, nimg; /* rows = BART's first axis longer than 1, columns its second */
    float max;          /* the largest magnitude of all images (bart's default scale) */
    int per_image, windowing, nthreads, t;
    float gamma, contrast, window;
    const char *prefix;
    int failed;
} toimg_job;

static double clamp01(double x) { return x < 0. ? 0. : x > 1. ? 1. : x; }

/* image k of the job as bart's toimg writes it: |x| / scale, times 255
   (or windowed: ((|x| / scale - contrast) / (window - contrast))^gamma
   clamped to [0, 1], scale the image's l2 norm over its pixel count),
   truncated to a byte, grey in R, G and B */
static int toimg_one(const toimg_job *j, int64_t k, unsigned char *rgb, char *name, size_t cap)
{
    const float *d = j->data + 2 * k * j->h * j->w;
    const int64_t np = j->h * j->w;
    float scale = 0.f;
    int64_t r, c;
    mv_status st;
    if (j->windowing) {
        double s2 = 0.;
        for (r = 0; r < np; r++) s2 += (double)d[2 * r] * d[2 * r] + (double)d[2 * r + 1] * d[2 * r + 1];
        scale = (float)sqrt(s2) / (float)np;
    } else if (!j->per_image) scale = j->max;
    else
        for (r = 0; r < np; r++) scale = fmaxf(cabsf(zf(d + 2 * r)), scale);
    if (scale == 0.f) scale = 1.f;
    for (r = 0; r < j->h; r++)
        for (c = 0; c < j->w; c++) {
            const double val = cabsf(zf(d + 2 * (c * j->h + r))) / scale; /* float over float, as bart */
            const double y = 255.f * (j->windowing ? pow(clamp01((val - j->contrast) / ((double)j->window - j->contrast)), j->gamma) : val);
            const unsigned char b = (unsigned char)(y >= 0. && y < 4294967296. ? (unsigned int)y : 0u); /* NaN: 0, as bart on x86 */
            unsigned char *px = rgb + 3 * (r * j->w + c);
            px[0] = px[1] = px[2] = b;
        }
    if (j->nimg > 1) snprintf(name, cap, "%s-%04lld.png", j->prefix, (long long)k);
    else snprintf(name, cap, "%s.png", j->prefix);
    st = mv_png_save(name, rgb, j->w, j->h, 3, 0, NULL);
    if (st != MV_OK) return fail_at(st, name);
    return 0;
}

static void *toimg_thread(void *p)
{
    toimg_job *j = (toimg_job *)p;
    size_t cap = strlen(j->prefix) + 32;
    unsigned char *rgb = (unsigned char *)malloc((size_t)(j->h * j->w * 3));
    char *name = (char *)malloc(cap);
    int64_t k;
    if (!rgb || !name) j->failed = 1;
    for (k = j->t; k < j->nimg && !j->failed; k += j->nthreads) j->failed = toimg_one(j, k, rgb, name, cap) != 0;
    free(rgb);
    free(name);
    return NULL;
}

/* toimg [-g G] [-c C] [-w W] [-m] [-W] IN PREFIX[.png] (bart toimg) */
static int cmd_toimg(const args *a)
{
    int64_t bd[NAX], sq[NAX], n, i;
    int nsq = 0, ax, t, nt, failed = 0, rc;
    mv_vol x;
    toimg_job base, jobs[64];
    pthread_t th[64];
    char *prefix;
    size_t len = strlen(a->pos[1]);
    const char *ext = strrchr(a->pos[1], '.');
    memset(&base, 0, sizeof(base));
    base.gamma = 1.f, base.contrast = 0.f, base.window = 750.f;
    if ((rc = opt_floats(a, "-g", &base.gamma, 1)) || (rc = opt_floats(a, "-c", &base.contrast, 1)) ||
        (rc = opt_floats(a, "-w", &base.window, 1)))
        return rc;
    base.per_image = opt_flag(a, "-m");
    base.windowing = opt_flag(a, "-W");
    if (opt_flag(a, "-d") || (ext && !strcmp(ext, ".dcm")))
        return usage_error(a, "DICOM output is not written (bart's deprecated proto-DICOM): name a .png or a prefix",
                           opt_flag(a, "-d") ? "-d" : a->pos[1]);
    if (ext && strcmp(ext, ".png") != 0 && !strchr(ext, '/'))
        return usage_error(a, "unknown file extension (bart: .png, .dcm or none)", a->pos[1]);
    prefix = (char *)malloc(len + 1);
    if (!prefix) return fail_at(MV_ERR_OUT_OF_MEMORY, a->pos[1]);
    memcpy(prefix, a->pos[1], len + 1);
    if (ext && !strcmp(ext, ".png")) prefix[ext - a->pos[1]] = 0;
    if ((rc = cfl_load_mapped(a->pos[0], &x, bd))) {
        free(prefix);
        return rc;
    }
    ones16(sq);
    for (ax = 0; ax < NAX; ax++)
        if (bd[ax] != 1) sq[nsq++] = bd[ax];
    base.data = (const float *)x.data;
    base.h = sq[0], base.w = sq[1];
    base.nimg = count16(sq) / (sq[0] * sq[1]);
    base.prefix = prefix;
    n = count16(bd);
    base.max = 0.f;
    for (i = 0; i < n; i++) base.max = fmaxf(cabsf(zf(base.data + 2 * i)), base.max);
    if (base.h > ((int64_t)1 << 31) - 1 || base.w > ((int64_t)1 << 31) - 1) {
        mv_free(&x);
        free(prefix);
        return fail_at(mv_set_error(MV_ERR_INVALID_ARG, "'%s': a %lld x %lld image is beyond PNG's 2^31 - 1 per side",
                                    a->pos[0], (long long)base.h, (long long)base.w), a->pos[0]);
    }
    nt = mv_threads();
    if (nt > 64) nt = 64;
    if (nt > base.nimg) nt = (int)base.nimg;
    if (nt < 1) nt = 1;
    for (t = 0; t < nt; t++) { /* images t, t + nt, ... on thread t */
        jobs[t] = base;
        jobs[t].t = t, jobs[t].nthreads = nt;
        if (t > 0 && pthread_create(&th[t], NULL, toimg_thread, &jobs[t]) != 0) {
            jobs[t].failed = 2; /* not started: done below on this thread */
        }
    }
    toimg_thread(&jobs[0]);
    for (t = 1; t < nt; t++) {
        if (jobs[t].failed == 2) {
            jobs[t].failed = 0;
            toimg_thread(&jobs[t]);
        } else pthread_join(th[t], NULL);
        failed |= jobs[t].failed;
    }
    failed |= jobs[0].failed;
    mv_free(&x);
    free(prefix);
    return failed ? 1 : 0;
}

/* ---- fftrot ---- */

/* BART's shear phase e^{s 2 pi i (j - Y/2) c (i - X/2) / n} over the plane
   of axes d1 (i) and d2 (j), as bart computes it: the exponent in double,
   its imaginary part rounded to float, then cexpf */
static void fftrot_phase(float complex *ph, int64_t X, int64_t Y, float c, double sign, int64_t n)
{
    int64_t i, j;
    for (i = 0; i < X; i++)
        for (j = 0; j < Y; j++) {
            const double inner = ((double)j - (double)Y / 2.) * c * ((double)i - (double)X / 2.) / (float)n;
            const float v = (float)(sign * 2. * 3.14159265358979323846 * inner);
            float re_im[2];
            float complex z;
            re_im[0] = 0.f, re_im[1] = v;
            memcpy(&z, re_im, sizeof(z));
            ph[i + X * j] = cexpf(z);
        }
}

/* x *= ph over the plane of axes d1, d2 (each sample of the other axes) */
static void fftrot_mul(float *x, const int64_t bd[NAX], int d1, int d2, const float complex *ph)
{
    int64_t c[NAX], i = 0;
    memset(c, 0, sizeof(c));
    do {
        float complex z;
        memcpy(&z, x + 2 * i, sizeof(z));
        z = z * ph[c[d1] + bd[d1] * c[d2]];
        memcpy(x + 2 * i, &z, sizeof(z));
        i++;
    } while (next16(c, bd));
}

/* fftrot DIM1 DIM2 THETA IN OUT (bart fftrot): a rotation by THETA (radians)
   in the plane of two axes by three shears (Paeth's, as phase ramps in
   BART's centred unitary FFT): along DIM1 by -tan(THETA / 2), DIM2 by
   sin(THETA), DIM1 again */
static int cmd_fftrot(const args *a)
{
    int64_t d1, d2, bd[NAX];
    float theta, alpha, beta;
    float complex *phx, *phy;
    char *end;
    mv_vol x;
    mv_status st;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, NAX - 1, "DIM1: an axis 0 .. 15", &d1)) ||
        (rc = arg_int(a, a->pos[1], 0, NAX - 1, "DIM2: an axis 0 .. 15", &d2)))
        return rc;
    if (d1 == d2) return usage_error(a, "two different axes (bart asserts)", a->pos[1]);
    theta = strtof(a->pos[2], &end);
    if (end == a->pos[2] || *end || !isfinite(theta)) return usage_error(a, "THETA: an angle in radians", a->pos[2]);
    if (d1 > d2) {
        const int64_t t = d1;
        d1 = d2, d2 = t;
    }
    if ((rc = cfl_load_folded(a->pos[3], &x, bd))) return rc;
    alpha = -tanf(theta / 2.f);
    beta = sinf(theta);
    phx = (float complex *)malloc((size_t)(bd[d1] * bd[d2]) * sizeof(float complex));
    phy = (float complex *)malloc((size_t)(bd[d1] * bd[d2]) * sizeof(float complex));
    if (!phx || !phy) {
        free(phx), free(phy);
        mv_free(&x);
        return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "fftrot: phases"), a->pos[3]);
    }
    fftrot_phase(phx, bd[d1], bd[d2], alpha, 1., bd[d1]);
    fftrot_phase(phy, bd[d1], bd[d2], beta, -1., bd[d2]);
    {
        const unsigned f1 = 1u << d1, f12 = f1 | 1u << d2;
        float *v = (float *)x.data;
        st = bart_fft_samples(v, bd, f1, 0, MV_FFT_ORTHO, 1);
        if (st == MV_OK) fftrot_mul(v, bd, (int)d1, (int)d2, phx);
        if (st == MV_OK) st = bart_fft_samples(v, bd, f12, 1, MV_FFT_ORTHO, 1);
        if (st == MV_OK) fftrot_mul(v, bd, (int)d1, (int)d2, phy);
        if (st == MV_OK) st = bart_fft_samples(v, bd, f12, 0, MV_FFT_ORTHO, 1);
        if (st == MV_OK) fftrot_mul(v, bd, (int)d1, (int)d2, phx);
        if (st == MV_OK) st = bart_fft_samples(v, bd, f1, 1, MV_FFT_ORTHO, 1);
    }
    free(phx), free(phy);
    if (st != MV_OK) {
        mv_free(&x);
        return fail_at(st, a->pos[3]);
    }
    return cfl_save_dims(a->pos[4], &x, bd);
}

const command mvtool_image_commands[] = {
    {"toimg", "magnitude images as PNG files (bart toimg)",
     "mvtool toimg [-g GAMMA] [-c CONTRAST] [-w WINDOW] [-m] [-W] IN PREFIX[.png]\n"
     "  bart toimg: the first two axes longer than 1 as rows and columns, one PNG\n"
     "  per position of the others (PREFIX-0000.png ..; PREFIX.png for one): |IN|\n"
     "  over the largest magnitude of all images (-m: of each), times 255,\n"
     "  truncated; -W windowing: ((|IN| / s - CONTRAST) / (WINDOW - CONTRAST))^GAMMA\n"
     "  clamped to [0, 1], s the image's l2 norm over its pixel count (CONTRAST 0,\n"
     "  WINDOW 750, GAMMA 1). Grey in RGB, 8 bits, as bart writes; no DICOM (-d).\n",
     "-g= -c= -w= -m -W -d", 2, 2, cmd_toimg},
    {"pol2mask", "masks from polygons (bart pol2mask)",
     "mvtool pol2mask [-X SIZE] [-Y SIZE] POLY OUT\n"
     "  bart pol2mask: POLY (2, vertices, polygons, ...) holds (x, y) pixel positions\n"
     "  in its real parts; OUT (X, Y, 1, ...; 100 x 100) the winding number of each\n"
     "  pixel (x, y), summed over the polygons (bart 0.8 counts the first polygon\n"
     "  once per polygon: the same for one).\n",
     "-X= -Y=", 2, 2, cmd_pol2mask},
    {"morphop", "binary erosion, dilation, opening, closing (bart morphop)",
     "mvtool morphop [-e | -d | -o | -c] SIZE IN [OUT]\n"
     "  bart morphop: a SIZE x SIZE block (odd) in axes 0 and 1, cyclic at the edges:\n"
     "  1 where the block's sum of real parts reaches SIZE^2 (1 - 1e-5) (-e, erosion,\n"
     "  the default) or 1 - SIZE^2 1e-5 (-d, dilation), else 0; -o erosion then\n"
     "  dilation, -c the reverse. An axis shorter than SIZE sums once around (as\n"
     "  bart's convolution). bart's bytes for binary input.\n",
     "-e -d -o -c", 2, 3, cmd_morphop},
    {"roistat", "statistics inside regions of interest (bart roistat)",
     "mvtool roistat [-b] [-C | -S | -M | -D | -E | -V] ROI IN [OUT]\n"
     "  bart roistat: over the axes ROI and IN share, the ROI's weights r: -C sum r,\n"
     "  -S sum r IN, -M their ratio, -E sum |(IN - mean) r|^2, -V that over the count\n"
     "  (-b: count - 1), -D its root, into OUT with the axes only one of them has;\n"
     "  no statistic: bart's table of mean, std and count. In float64.\n",
     "-b -C -S -M -D -E -V", 2, 3, cmd_roistat},
    {"poly", "a polynomial at 0 .. L - 1 (bart poly)",
     "mvtool poly L N A_1 .. A_N+1 OUT\n  bart poly: A_1 + A_2 x + .. + A_N+1 x^N at x = 0 .. L - 1 along axis 0; bart's bytes.\n",
     "", 4, -1, cmd_poly},
    {"fftrot", "rotation by Fourier shears (bart fftrot)",
     "mvtool fftrot DIM1 DIM2 THETA IN OUT\n"
     "  bart fftrot: IN rotated by THETA radians in the plane of two axes by three shears, each\n"
     "  a phase ramp in BART's centred unitary FFT (-tan(THETA/2), sin(THETA), -tan(THETA/2)): a point\n"
     "  (p1, p2) from the centre n/2 moves to (p1 cos + p2 sin, -p1 sin + p2 cos).\n",
     "", 5, 5, cmd_fftrot},
};
const int mvtool_image_ncommands = (int)(sizeof(mvtool_image_commands) / sizeof(mvtool_image_commands[0]));
