/* mvtool_array.c - the array family of mvtool: BART's commands that make,
   move and combine .cfl arrays between its reconstructions (bart zeros,
   ones, vec, index, delta, upat, noise, poisson, scale, saxpy, conj,
   creal, cabs, carg, invert, cpyphs, zexp, spow, fmac, avg, var, std, mip,
   normalize, pattern, nrmse, sdot, resize, crop, extract, slice, copy,
   join, flip, circshift, transpose, reshape, repmat, squeeze, show,
   bitmask, fovshift, estshift, rof, whiten, conv, window), so that a
   script written for bart runs with mvtool in its place.

   Each takes bart 0.8's arguments and gives its meaning over BART's 16
   axes. Where bart's result is one float rounding per sample (every move,
   noise, scale, saxpy, conj, creal, cabs, carg, fmac without -s,
   fovshift, window) it is bart's, byte for byte: the same float operations in the
   same order (complex products as gcc computes them, a*c - b*d and
   a*d + b*c; BART's strength reduction of a real scale factor; the
   Makefile's -ffp-contract=off keeps them unfused). Sums over axes (fmac
   -s, avg, pattern) accumulate in float as bart does, along the file's
   order, which is bart's order or another of its loop optimiser's
   choosing: within float rounding of bart's. nrmse and sdot accumulate in
   float64 as bart does. tests/test_tools.sh compares every command with
   bart 0.8 (cmp where the bytes are bart's).

   Arrays are read with BART's axes 6..15 folded into dims[6] (the file's
   samples in its order; mapped where a command only reads them:
   cfl_load_mapped) and written with BART's 16 sizes (cfl_save_dims); the
   moves walk all 16 axes. */
#include "mvtool.h"
#include <complex.h> /* invert, spow, zexp: libm's and libgcc's complex operations, as bart calls them */
#include <pthread.h> /* run_map's chunks side by side */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* multicfl: getpid for its header's temporary */

#define NAX 16 /* BART's DIMS */

/* ---- strided walks over 16 axes ---- */

/* Up to three arrays walked together over 16 sizes as lines along the
   innermost axis left: axes of length 1 dropped, an axis merged into the
   one below it where every array steps through the two as one (so a
   contiguous block is one long line, one memcpy). Strides in samples: 0
   repeats a sample (broadcast, or a sum into it), negative walks back. */
typedef struct walk {
    int narr, nd;
    int64_t len[NAX], st[3][NAX];
} walk;

static void walk_init(walk *w, const int64_t len[NAX], int narr, const int64_t *s0, const int64_t *s1,
                      const int64_t *s2)
{
    const int64_t *s[3];
    int ax, j;
    s[0] = s0, s[1] = s1, s[2] = s2;
    memset(w, 0, sizeof(*w));
    w->narr = narr;
    for (ax = 0; ax < NAX; ax++) {
        int merge = w->nd > 0;
        if (len[ax] == 1) continue;
        for (j = 0; j < narr && merge; j++)
            if (s[j][ax] != w->st[j][w->nd - 1] * w->len[w->nd - 1]) merge = 0;
        if (merge) {
            w->len[w->nd - 1] *= len[ax];
            continue;
        }
        for (j = 0; j < narr; j++) w->st[j][w->nd] = s[j][ax];
        w->len[w->nd++] = len[ax];
    }
    if (w->nd == 0) w->len[w->nd++] = 1; /* one sample */
}

/* One line: n samples, p[j] the first of array j (float pairs), s[j] its
   stride in samples. */
typedef void (*line_fn)(void *ctx, int64_t n, float *const p[3], const int64_t s[3]);

static void walk_run(const walk *w, float *const base[3], line_fn fn, void *ctx)
{
    int64_t c[NAX], s0[3];
    float *p[3];
    int j, k;
    memset(c, 0, sizeof(c));
    for (j = 0; j < 3; j++) s0[j] = j < w->narr ? w->st[j][0] : 0;
    for (;;) {
        for (j = 0; j < 3; j++) {
            int64_t off = 0;
            if (j >= w->narr) {
                p[j] = NULL;
                continue;
            }
            for (k = 1; k < w->nd; k++) off += c[k] * w->st[j][k];
            p[j] = base[j] + 2 * off;
        }
        fn(ctx, w->len[0], p, s0);
        for (k = 1; k < w->nd; k++) {
            if (++c[k] < w->len[k]) break;
            c[k] = 0;
        }
        if (k >= w->nd) return;
    }
}

/* p[0] = p[1], sample by sample */
static void line_copy(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    if (s[0] == 1 && s[1] == 1) {
        memcpy(p[0], p[1], (size_t)n * 2 * sizeof(float));
        return;
    }
    for (i = 0; i < n; i++) {
        p[0][2 * i * s[0]] = p[1][2 * i * s[1]];
        p[0][2 * i * s[0] + 1] = p[1][2 * i * s[1] + 1];
    }
}

/* BART's fmac: p[0] += p[1] * p[2] (conjugated when *ctx), the product
   rounded as gcc's complex product, then added (BART's zfmac, zfmacc) */
static void line_fmac(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    const float sign = *(const int *)ctx ? -1.0f : 1.0f;
    int64_t i;
    for (i = 0; i < n; i++) {
        float *o = p[0] + 2 * i * s[0];
        const float *x = p[1] + 2 * i * s[1], *y = p[2] + 2 * i * s[2];
        const float yr = y[0], yi = sign * y[1];
        const float re = x[0] * yr - x[1] * yi, im = x[0] * yi + x[1] * yr;
        o[0] += re;
        o[1] += im;
    }
}


/* A transpose's copy in tiles: axis 0 is out's contiguous one and axis 1
   in's, both walked TILE samples at a time, so that both sides move whole
   cache lines (line by line, one side would stride through memory a
   sample per line: mvtool transpose 0 3 of a 67 MB file took 0.13 s so,
   0.07 s tiled) */
#define TILE 32
static void copy_tiled(const walk *w, float *out, const float *in)
{
    int64_t c[NAX], i0, j0, i, j;
    const int64_t *so = w->st[0], *si = w->st[1];
    int k;
    memset(c, 0, sizeof(c));
    for (;;) {
        float *po = out;
        const float *pi = in;
        for (k = 2; k < w->nd; k++) po += 2 * c[k] * so[k], pi += 2 * c[k] * si[k];
        for (j0 = 0; j0 < w->len[1]; j0 += TILE)
            for (i0 = 0; i0 < w->len[0]; i0 += TILE) {
                const int64_t ie = i0 + TILE < w->len[0] ? i0 + TILE : w->len[0];
                const int64_t je = j0 + TILE < w->len[1] ? j0 + TILE : w->len[1];
                for (j = j0; j < je; j++)
                    for (i = i0; i < ie; i++) {
                        float *o = po + 2 * (i * so[0] + j * so[1]);
                        const float *x = pi + 2 * (i * si[0] + j * si[1]);
                        o[0] = x[0], o[1] = x[1];
                    }
            }
        for (k = 2; k < w->nd; k++) {
            if (++c[k] < w->len[k]) break;
            c[k] = 0;
        }
        if (k >= w->nd) return;
    }
}

/* the block of sizes blk of out (sizes od) from sample ooff = in's samples
   from ioff along strides is (a view of the file: a block, transposed,
   reversed, repeated); tiled where in's contiguous axis is not out's */
static void copy_sub(float *out, const int64_t od[NAX], int64_t ooff, const float *in, int64_t ioff,
                     const int64_t is[NAX], const int64_t blk[NAX])
{
    int64_t os[NAX], t;
    walk w;
    float *base[3];
    int k, j;
    strides_of(od, os);
    walk_init(&w, blk, 2, os, is, NULL);
    base[0] = out + 2 * ooff, base[1] = (float *)in + 2 * ioff, base[2] = NULL;
    for (k = 1; k < w.nd && w.st[1][0] != 1 && w.st[1][0] != -1 && w.len[0] > 1; k++)
        if (w.st[1][k] == 1 || w.st[1][k] == -1) { /* in's contiguous axis to position 1 */
            t = w.len[1], w.len[1] = w.len[k], w.len[k] = t;
            for (j = 0; j < 2; j++) t = w.st[j][1], w.st[j][1] = w.st[j][k], w.st[j][k] = t;
            copy_tiled(&w, base[0], base[1]);
            return;
        }
    walk_run(&w, base, line_copy, NULL);
}

/* BART's md_copy_block: along each axis the block is the shorter of the
   two lengths, at pos in the longer (pos 0 where they are equal); pos and
   the block inside the longer, else a message naming the axis. */
static int copy_block(const args *a, float *out, const int64_t od[NAX], const float *in, const int64_t id[NAX],
                      const int64_t pos[NAX])
{
    int64_t blk[NAX], os[NAX], is[NAX], ooff = 0, ioff = 0;
    int ax;
    strides_of(od, os);
    strides_of(id, is);
    for (ax = 0; ax < NAX; ax++) {
        const int64_t lo = od[ax] < id[ax] ? od[ax] : id[ax], hi = od[ax] < id[ax] ? id[ax] : od[ax];
        if (pos[ax] < 0 || pos[ax] + lo > hi || (od[ax] == id[ax] && pos[ax] != 0)) {
            char msg[160];
            snprintf(msg, sizeof(msg), "axis %d: a block of %lld at %lld does not fit in %lld", ax, (long long)lo,
                     (long long)pos[ax], (long long)hi);
            return usage_error(a, msg, NULL);
        }
        blk[ax] = lo;
        if (id[ax] > lo) ioff += pos[ax] * is[ax];
        if (od[ax] > lo) ooff += pos[ax] * os[ax];
    }
    copy_sub(out, od, ooff, in, ioff, is, blk);
    return 0;
}

/* copy_block of x (freed) into o, then o saved to out (freed on a refusal);
   exit status */
static int block_save(const args *a, const char *out, mv_vol *o, const int64_t od[NAX], mv_vol *x, const int64_t xd[NAX],
                      const int64_t pos[NAX])
{
    const int rc = copy_block(a, (float *)o->data, od, (const float *)x->data, xd, pos);
    mv_free(x);
    if (rc) {
        mv_free(o);
        return rc;
    }
    return cfl_save_dims(out, o, od);
}

/* ---- files and arguments ---- */



/* an option's whole number in [lo, hi] when it is given (v kept else) */
static int opt_int(const args *a, const char *name, int64_t lo, int64_t hi, const char *what, int64_t *v)
{
    const char *w = opt_str(a, name);
    return w ? arg_int(a, w, lo, hi, what, v) : 0;
}
#define BART_INT_MIN (-((int64_t)1 << 31)) /* bart's seeds are C ints */
#define BART_INT_MAX (((int64_t)1 << 31) - 1)

/* BART's complex number (parse_cfl): "2", "-0.5", "1.5i", "1+2i", "1e-3-2i" */
static int arg_cfl(const args *a, const char *word, float z[2])
{
    char *end = NULL;
    float re, im = 0.0f;
    re = strtof(word, &end);
    if (end == word) return usage_error(a, "a complex number such as 2, 0.5i or 1+2i", word);
    if (end[0] == 'i' && end[1] == 0) {
        im = re, re = 0.0f;
    } else if (end[0]) {
        const char *s = end;
        im = strtof(s, &end);
        if (end == s || end[0] != 'i' || end[1] != 0)
            return usage_error(a, "a complex number such as 2, 0.5i or 1+2i", word);
    }
    if (!isfinite(re) || !isfinite(im)) return usage_error(a, "a finite complex number", word);
    z[0] = re + 0.0f * im, z[1] = im; /* parse_cfl's re + 1.i * im: "-0" is +0 there */
    return 0;
}

/* sizes that fit: each >= 1, the product of samples within int64 and 2^53 */
static int sizes_fit(const args *a, const int64_t d[NAX], const char *word)
{
    int64_t n = 1;
    int ax;
    for (ax = 0; ax < NAX; ax++) {
        if (d[ax] < 1 || n > MVT_BIG / d[ax]) return usage_error(a, "sizes whose product exceeds 2^53 samples", word);
        n *= d[ax];
    }
    return 0;
}


/* ---- making arrays ---- */

/* zeros / ones N D1 .. DN OUT */
static int make_filled(const args *a, float value)
{
    int64_t n = 0, bd[NAX];
    mv_vol o;
    int64_t i, count;
    int k, rc;
    if ((rc = arg_int(a, a->pos[0], 1, NAX, "N: the number of dims, 1 .. 16", &n))) return rc;
    if (a->npos != n + 2) return usage_error(a, "N dims and OUT expected after N", a->pos[0]);
    ones16(bd);
    for (k = 0; k < n; k++)
        if ((rc = arg_int(a, a->pos[1 + k], 1, MVT_BIG, "a dim: a size >= 1", &bd[k]))) return rc;
    if ((rc = sizes_fit(a, bd, a->pos[0])) || (rc = alloc16(&o, bd, a->pos[a->npos - 1]))) return rc;
    count = count16(bd);
    if (value != 0.0f)
        for (i = 0; i < count; i++) ((float *)o.data)[2 * i] = value;
    return cfl_save_dims(a->pos[a->npos - 1], &o, bd);
}
static int cmd_zeros(const args *a) { return make_filled(a, 0.0f); }
static int cmd_ones(const args *a) { return make_filled(a, 1.0f); }

/* vec V1 .. VN OUT: the numbers (bart's complex form) along axis 0 */
static int cmd_vec(const args *a)
{
    mv_vol o;
    int64_t bd[NAX];
    int k, rc;
    ones16(bd);
    bd[0] = a->npos - 1;
    if ((rc = alloc16(&o, bd, a->pos[a->npos - 1]))) return rc;
    for (k = 0; k + 1 < a->npos; k++)
        if ((rc = arg_cfl(a, a->pos[k], (float *)o.data + 2 * k))) {
            mv_free(&o);
            return rc;
        }
    return cfl_save_dims(a->pos[a->npos - 1], &o, bd);
}

/* index DIM SIZE OUT: 0 .. SIZE - 1 along DIM (bart index; the header
   lists DIM + 1 sizes there, the same array) */
/* onehotenc [-r] [-i DIM] IN OUT (bart onehotenc): class labels (the real parts, rounded) to one-hot
   vectors along the first axis of size 1 from DIM, or (-r) one-hot scores along DIM to the index of
   each position's largest real part (the first of equal ones, as bart) */
static int cmd_onehotenc(const args *a)
{
    int64_t ci = 0, id[NAX], od[NAX], c[NAX], s[NAX], i, n, ties = 0;
    mv_vol in, out;
    const float *x;
    int rc;
    if ((rc = opt_int(a, "-i", 0, NAX - 1, "-i: an axis 0 .. 15", &ci))) return rc;
    if ((rc = cfl_load_mapped(a->pos[0], &in, id))) return rc;
    x = (const float *)in.data;
    n = count16(id);
    memcpy(od, id, sizeof(od));
    if (!opt_flag(a, "-r")) {
        float mx = x[0];
        while (ci < NAX && id[ci] != 1) ci++;
        if (ci == NAX) {
            mv_free(&in);
            return usage_error(a, "IN has no axis of size 1 from -i on to hold the classes", a->pos[0]);
        }
        for (i = 1; i < n; i++) mx = x[2 * i] > mx ? x[2 * i] : mx; /* bart's zmax: real parts */
        if (!(lroundf(mx) >= 0 && lroundf(mx) < (1L << 24))) {
            mv_free(&in);
            return usage_error(a, "the largest label must round to 0 .. 2^24 - 1", a->pos[0]);
        }
        od[ci] = lroundf(mx) + 1;
        for (i = 0; i < n; i++)
            if (lroundf(x[2 * i]) < 0) {
                mv_free(&in);
                return usage_error(a, "a label rounds below 0 (bart asserts)", a->pos[0]);
            }
        if (count16(od) > ((int64_t)1 << 31) || (rc = alloc16(&out, od, a->pos[1]))) {
            mv_free(&in);
            return rc ? rc : usage_error(a, "the one-hot array would exceed 2^31 samples", a->pos[0]);
        }
        memset(c, 0, sizeof(c));
        do { /* IN's position c, the class its label names */
            const int64_t k = lroundf(x[2 * offset16(c, id)]);
            int64_t q[NAX];
            memcpy(q, c, sizeof(q));
            q[ci] = k;
            ((float *)out.data)[2 * offset16(q, od)] = 1.f;
        } while (next16(c, id));
    } else {
        od[ci] = 1;
        if ((rc = alloc16(&out, od, a->pos[1]))) {
            mv_free(&in);
            return rc;
        }
        strides_of(id, s);
        memset(c, 0, sizeof(c));
        do {
            const float *p = x + 2 * offset16(c, id);
            float best = p[0];
            int64_t k, idx = 0, tie = 0;
            for (k = 1; k < id[ci]; k++) {
                const float v = p[2 * k * s[ci]];
                if (v == best) tie = 1;
                if (v > best) best = v, idx = k, tie = 0;
            }
            ties += tie;
            ((float *)out.data)[2 * offset16(c, od)] = (float)idx;
        } while (next16(c, od));
        if (ties)
            fprintf(stderr, "mvtool onehotenc: %lld positions hold several largest values: the first index taken (bart's warning)\n",
                    (long long)ties);
    }
    mv_free(&in);
    return cfl_save_dims(a->pos[1], &out, od);
}

static int cmd_index(const args *a)
{
    mv_vol o;
    int64_t dim = 0, size = 0, bd[NAX], i;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, NAX - 1, "DIM: an axis 0 .. 15", &dim)) ||
        (rc = arg_int(a, a->pos[1], 1, (int64_t)1 << 24, "SIZE: 1 .. 2^24 (float counts exactly)", &size)))
        return rc;
    ones16(bd);
    bd[dim] = size;
    if ((rc = alloc16(&o, bd, a->pos[2]))) return rc;
    for (i = 0; i < size; i++) ((float *)o.data)[2 * i] = (float)i;
    return cfl_save_dims(a->pos[2], &o, bd);
}

/* upat [-Y N] [-Z N] [-y U] [-z U] [-c C] OUT: bart upat's Cartesian
   pattern (1, Y, Z): 1 on every U-th line along each (y % uy == 0 and
   z % uz == 0) and in the centre |2y - Y| < 2C and |2z - Z| < 2C */
static int cmd_upat(const args *a)
{
    mv_vol o;
    int64_t ny = 128, nz = 128, uy = 1, uz = 2, cen = 0, bd[NAX], y, z;
    int rc;
    if ((rc = opt_int(a, "-Y", 1, (int64_t)1 << 24, "-Y: a size >= 1", &ny)) ||
        (rc = opt_int(a, "-Z", 1, (int64_t)1 << 24, "-Z: a size >= 1", &nz)) ||
        (rc = opt_int(a, "-y", 1, (int64_t)1 << 24, "-y: an undersampling >= 1", &uy)) ||
        (rc = opt_int(a, "-z", 1, (int64_t)1 << 24, "-z: an undersampling >= 1", &uz)) ||
        (rc = opt_int(a, "-c", 0, (int64_t)1 << 24, "-c: a centre size >= 0", &cen)))
        return rc;
    ones16(bd);
    bd[1] = ny, bd[2] = nz;
    if ((rc = sizes_fit(a, bd, opt_str(a, "-Y"))) || (rc = alloc16(&o, bd, a->pos[0]))) return rc;
    for (z = 0; z < nz; z++)
        for (y = 0; y < ny; y++)
            if ((y % uy == 0 && z % uz == 0) || (llabs(2 * y - ny) < 2 * cen && llabs(2 * z - nz) < 2 * cen))
                ((float *)o.data)[2 * (z * ny + y)] = 1.f;
    return cfl_save_dims(a->pos[0], &o, bd);
}

/* delta N FLAGS SIZE OUT: bart delta's Kronecker delta: N axes, those of
   FLAGS of SIZE, 1 where their indices are all equal (all 0 when FLAGS
   names none of the N: bart's md_copy_diag2 copies nothing then) */
static int cmd_delta(const args *a)
{
    mv_vol o;
    int64_t n = 0, flags = 0, len = 0, bd[NAX], step = 0, i;
    int ax, rc;
    if ((rc = arg_int(a, a->pos[0], 1, NAX, "N: the number of dims, 1 .. 16", &n)) ||
        (rc = arg_int(a, a->pos[1], 0, 65535, "FLAGS: a bitmask of the axes, 0 .. 65535", &flags)) ||
        (rc = arg_int(a, a->pos[2], 1, MVT_BIG, "SIZE: a size >= 1", &len)))
        return rc;
    ones16(bd);
    for (ax = 0; ax < n; ax++)
        if (flags >> ax & 1) bd[ax] = len;
    if ((rc = sizes_fit(a, bd, a->pos[2])) || (rc = alloc16(&o, bd, a->pos[3]))) return rc;
    { /* the diagonal: one step along every flagged axis at once */
        int64_t st[NAX];
        strides_of(bd, st);
        for (ax = 0; ax < n; ax++)
            if (flags >> ax & 1) step += st[ax];
    }
    for (i = 0; step && i < len; i++) ((float *)o.data)[2 * i * step] = 1.f; /* no flagged axis: zeros, as bart */
    return cfl_save_dims(a->pos[3], &o, bd);
}

/* ---- sample by sample ---- */

/* complex values from their parts, with no arithmetic (re + im * I would
   turn a -0 real part into +0); C99 lays them out as two floats */
static float _Complex cf_of(float re, float im)
{
    float _Complex w;
    float *q = (float *)&w;
    q[0] = re, q[1] = im;
    return w;
}
static double _Complex cd_of(double re, double im)
{
    double _Complex w;
    double *q = (double *)&w;
    q[0] = re, q[1] = im;
    return w;
}

typedef enum { MAP_SCALE, MAP_CONJ, MAP_REAL, MAP_ABS, MAP_ARG, MAP_INVERT, MAP_PHASE, MAP_EXP, MAP_EXPJ, MAP_POW } map_kind;

/* in place over the loaded samples, as BART's vecops: scale by a real
   factor multiplies each float (md_zsmul's strength reduction), by a
   complex one each sample (gcc's product); creal multiplies the parts by
   1 and 0 (md_zreal's md_zrmul: the imaginary part's sign stays on its
   zero); cabs (hypotf, which is glibc's cabsf) and carg (atan2f, its
   cargf) leave the imaginary part +0; invert is bart's 1. / x, a double
   complex division (libgcc's __divdc3) rounded to float, 0 at 0; cpyphs
   x / |x| (1 at 0, md_zphsr); zexp cexpf(x), with -i cexpf of (0 re - im,
   0 im + re) (gcc's product with bart's 1.I, whose zeros carry the signs);
   spow cpowf(x, z) (md_zspow) */
static void map_samples(float *x, int64_t n, map_kind kind, const float z[2])
{
    int64_t i;
    if (kind == MAP_EXP) { /* the samples as C99's complex float (its layout: float[2]): no store forwarding of
                              two floats into one complex per sample, which doubled zexp's time */
        float _Complex *c = (float _Complex *)(void *)x;
        for (i = 0; i < n; i++) c[i] = cexpf(c[i]);
        return;
    }
    for (i = 0; i < n; i++, x += 2) {
        const float re = x[0], im = x[1];
        float _Complex r;
        switch (kind) {
        case MAP_SCALE:
            if (z[1] == 0.0f) {
                x[0] = re * z[0], x[1] = im * z[0];
            } else {
                x[0] = re * z[0] - im * z[1], x[1] = re * z[1] + im * z[0];
            }
            break;
        case MAP_CONJ: x[1] = -im; break;
        case MAP_REAL: x[1] = im * 0.0f; break; /* BART's md_zrmul by (1, 0): -0 from a negative part */
        case MAP_ABS: x[0] = hypotf(re, im), x[1] = 0.0f; break;
        case MAP_ARG: x[0] = atan2f(im, re), x[1] = 0.0f; break;
        case MAP_INVERT:
            if (re == 0.f && im == 0.f) {
                x[0] = x[1] = 0.f;
            } else {
                const double _Complex q = 1. / cd_of(re, im);
                x[0] = (float)creal(q), x[1] = (float)cimag(q);
            }
            break;
        case MAP_PHASE: {
            const float m = hypotf(re, im);
            if (m == 0.f) x[0] = 1.f, x[1] = 0.f;
            else x[0] = re / m, x[1] = im / m;
            break;
        }
        case MAP_EXP:
        case MAP_EXPJ:
        case MAP_POW:
            r = kind == MAP_EXP    ? cexpf(cf_of(re, im))
                : kind == MAP_EXPJ ? cexpf(cf_of((float)(0.0 * re - im), (float)(0.0 * im + re)))
                                   : cpowf(cf_of(re, im), cf_of(z[0], z[1]));
            x[0] = crealf(r), x[1] = cimagf(r);
            break;
        }
    }
}

/* a chunk of samples: copied from the mapped input into its buffer and mapped there */
typedef struct map_job {
    const float *src;
    float *dst;
    int64_t n;
    map_kind kind;
    const float *z;
} map_job;

static void *map_job_run(void *p)
{
    const map_job *j = (const map_job *)p;
    memcpy(j->dst, j->src, (size_t)j->n * 8);
    map_samples(j->dst, j->n, j->kind, j->z);
    return NULL;
}

/* IN mapped, mapped in chunks of 1 MiB that stay in cache (a round of
   mv_threads() of them side by side, written in order while the next round
   is mapped), streamed into OUT (mv_cfl_writer: no copy of IN in memory,
   no output buffer; the old OUT, which may be IN, replaced at the end):
   the same bytes for any thread count */
static int run_map(const char *in, const char *out, map_kind kind, const float z[2])
{
    enum { CHUNK = 1 << 17, MAXT = 8 }; /* samples per chunk */
    mv_vol v;
    int64_t bd[NAX], n, i0;
    mv_cfl_writer *w = NULL;
    mv_save_opts so;
    map_job job[2][MAXT];
    pthread_t th[MAXT];
    int started[MAXT];
    float *buf;
    mv_status st;
    int rc, t, r, nt = mv_threads();
    if ((rc = cfl_load_mapped(in, &v, bd))) return rc;
    n = count16(bd);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    if ((int64_t)nt * CHUNK > n) nt = (int)((n + CHUNK - 1) / CHUNK > 0 ? (n + CHUNK - 1) / CHUNK : 1);
    buf = (float *)malloc((size_t)2 * nt * CHUNK * 8); /* two rounds: one written while the next is mapped */
    memset(&so, 0, sizeof(so));
    so.exchange = 1; /* as cfl_save_dims */
    st = buf ? mv_cfl_writer_open(&w, out, bd, &so) : mv_set_error(MV_ERR_OUT_OF_MEMORY, "%d chunks of 1 MiB", 2 * nt);
    for (r = 0, i0 = 0; st == MV_OK && (i0 < n || r > 0); r++, i0 += (int64_t)nt * CHUNK) {
        map_job *cur = job[r & 1], *prev = job[(r & 1) ^ 1];
        for (t = 0; t < nt; t++) { /* round r's chunks: threads 1.. now, chunk 0 on this thread after the write */
            const int64_t a0 = i0 + (int64_t)t * CHUNK, len = a0 >= n ? 0 : n - a0 < CHUNK ? n - a0 : CHUNK;
            cur[t].src = (const float *)v.data + 2 * (a0 < n ? a0 : 0);
            cur[t].dst = buf + ((size_t)(r & 1) * nt + (size_t)t) * CHUNK * 2;
            cur[t].n = len, cur[t].kind = kind, cur[t].z = z;
            started[t] = t > 0 && len > 0 && pthread_create(&th[t], NULL, map_job_run, &cur[t]) == 0;
        }
        for (t = 0; r > 0 && t < nt && st == MV_OK; t++) /* round r - 1, in order */
            if (prev[t].n > 0) st = mv_cfl_writer_write(w, prev[t].dst, (size_t)prev[t].n * 8);
        for (t = 0; t < nt; t++)
            if (!started[t] && cur[t].n > 0) map_job_run(&cur[t]);
        for (t = 1; t < nt; t++)
            if (started[t]) pthread_join(th[t], NULL);
        if (i0 >= n) break; /* that round was empty: the last one is written */
    }
    {
        const mv_status sc = mv_cfl_writer_close(w, st == MV_OK);
        if (st == MV_OK) st = sc;
    }
    free(buf);
    mv_free(&v);
    return st == MV_OK ? 0 : fail_at(st, out);
}

static int cmd_scale(const args *a)
{
    float z[2];
    int rc = arg_cfl(a, a->pos[0], z);
    return rc ? rc : run_map(a->pos[1], a->pos[2], MAP_SCALE, z);
}
static int cmd_spow(const args *a)
{
    float z[2];
    int rc = arg_cfl(a, a->pos[0], z);
    return rc ? rc : run_map(a->pos[1], a->pos[2], MAP_POW, z);
}
static int cmd_conj(const args *a) { return run_map(a->pos[0], a->pos[1], MAP_CONJ, NULL); }
static int cmd_invert(const args *a) { return run_map(a->pos[0], a->pos[1], MAP_INVERT, NULL); }
static int cmd_cpyphs(const args *a) { return run_map(a->pos[0], a->pos[1], MAP_PHASE, NULL); }
static int cmd_zexp(const args *a) { return run_map(a->pos[0], a->pos[1], opt_flag(a, "-i") ? MAP_EXPJ : MAP_EXP, NULL); }
static int cmd_creal(const args *a) { return run_map(a->pos[0], a->pos[1], MAP_REAL, NULL); }
static int cmd_cabs(const args *a) { return run_map(a->pos[0], a->pos[1], MAP_ABS, NULL); }
static int cmd_carg(const args *a) { return run_map(a->pos[0], a->pos[1], MAP_ARG, NULL); }

/* noise [-s SEED] [-n VAR] [-S SPIKE] [-r] IN OUT: bart noise's bytes
   (mv_bart_noise: BART's generator from its seed, 123 by default) */
static int cmd_noise(const args *a)
{
    mv_vol v;
    int64_t bd[NAX], seed = 123;
    double var = 1.0, spike = 1.0;
    const char *n = opt_str(a, "-n"), *sp = opt_str(a, "-S");
    unsigned state;
    int rc;
    mv_status st;
    if ((rc = opt_int(a, "-s", BART_INT_MIN, BART_INT_MAX, "-s: a seed (bart's int)", &seed))) return rc;
    if (n && (parse_list(n, &var, 1) != 1 || var < 0 || var > 3.4e38)) return usage_error(a, "-n: a variance >= 0", n);
    if (sp && (parse_list(sp, &spike, 1) != 1 || fabs(spike) > 3.4e38)) return usage_error(a, "-S: a number", sp);
    if ((rc = cfl_load_folded(a->pos[0], &v, bd))) return rc;
    state = (unsigned)(seed & 0xffffffff); /* bart's int seed, as unsigned */
    st = mv_bart_noise(v.data, count16(bd), var, spike, opt_flag(a, "-r"), &state);
    if (st != MV_OK) {
        mv_free(&v);
        return fail_at(st, a->pos[0]);
    }
    return cfl_save_dims(a->pos[1], &v, bd);
}

/* poisson [-Y N] [-Z N] [-y A] [-z A] [-C N] [-v] [-V V] [-e] [-D D] [-R N]
   [-s SEED] OUT: bart poisson's mask (mv_poisson_mask: BART's draws), a
   .cfl of (1, Y, Z), and its line "points: ..." */
static int cmd_poisson(const args *a)
{
    mv_poisson_opts o;
    mv_vol m, c;
    int64_t ny = 128, nz = 128, v = 0, points = 0, bd[NAX], i, k;
    double f;
    const char *w;
    int rc;
    mv_status st;
    memset(&o, 0, sizeof(o));
    if ((rc = opt_int(a, "-Y", 1, 4096, "-Y: a size 1 .. 4096", &ny)) ||
        (rc = opt_int(a, "-Z", 1, 4096, "-Z: a size 1 .. 4096", &nz)) ||
        (rc = opt_int(a, "-C", 0, 4096, "-C: a calibration size", &o.calib)) ||
        (rc = opt_int(a, "-R", 1, (int64_t)1 << 26, "-R: a number of points", &o.random_points)) ||
        (rc = opt_int(a, "-T", 1, 32, "-T: 1 .. 32 classes", &v)))
        return rc;
    o.classes = (int)(opt_str(a, "-T") ? v : 1);
    if ((rc = opt_int(a, "-s", BART_INT_MIN, BART_INT_MAX, "-s: a seed (bart's int)", &v))) return rc;
    if (opt_str(a, "-s")) o.seed_set = 1, o.seed = (unsigned)(v & 0xffffffff);
    if (((w = opt_str(a, "-y")) && (parse_list(w, &o.accel_y, 1) != 1 || o.accel_y < 1)) ||
        ((w = opt_str(a, "-z")) && (parse_list(w, &o.accel_z, 1) != 1 || o.accel_z < 1)))
        return usage_error(a, "-y, -z: an acceleration >= 1", w);
    if (((w = opt_str(a, "-V")) && (parse_list(w, &o.var_density, 1) != 1 || o.var_density < 0)) ||
        ((w = opt_str(a, "-D")) && (parse_list(w, &o.min_dist, 1) != 1 || o.min_dist <= 0)))
        return usage_error(a, "-V: a density >= 0, -D: a distance > 0", w);
    if (opt_flag(a, "-v") && o.var_density == 0) o.var_density = 20;
    o.elliptical = opt_flag(a, "-e");
    if (o.calib > ny || o.calib > nz) return usage_error(a, "-C: at most the smaller of -Y and -Z", opt_str(a, "-C"));
    if (o.classes > 1 && o.random_points) return usage_error(a, "-R points have no classes (bart leaves them undefined)", opt_str(a, "-T"));
    if (opt_flag(a, "-m")) { /* bart's -m: the points' (0, ky, kz) instead of a mask */
        if (o.calib) return usage_error(a, "-C needs the mask (bart asserts): not with -m", opt_str(a, "-C"));
        if ((st = mv_poisson_samples(&m, ny, nz, &o)) != MV_OK) return fail_at(st, a->pos[0]);
        ones16(bd);
        bd[0] = 3, bd[1] = m.dim[1];
        if ((rc = alloc16(&c, bd, a->pos[0]))) {
            mv_free(&m);
            return rc;
        }
        for (i = 0; i < m.dim[1]; i++) /* bart writes 0 where medvol's samples hold the class */
            for (k = 1; k < 3; k++) ((float *)c.data)[2 * (3 * i + k)] = ((const float *)m.data)[3 * i + k];
        printf("points: %lld%s", (long long)m.dim[1], o.classes > 1 ? "" : "\n");
        if (o.classes > 1) printf(", classes: %d\n", o.classes);
        mv_free(&m);
        return cfl_save_dims(a->pos[0], &c, bd);
    }
    st = mv_poisson_mask(&m, ny, nz, &o, &points);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    ones16(bd);
    bd[1] = ny, bd[2] = nz, bd[3] = o.classes;
    if ((rc = alloc16(&c, bd, a->pos[0]))) {
        mv_free(&m);
        return rc;
    }
    for (i = 0; i < ny * nz * o.classes; i++) ((float *)c.data)[2 * i] = ((const float *)m.data)[i];
    mv_free(&m);
    /* bart's line, its float arithmetic: f (pi / 4 elliptical) times the grid, over the points */
    f = o.elliptical ? (float)(3.14159265358979323846 / 4.) : 1.f;
    printf("points: %lld", (long long)points);
    if (o.classes > 1) printf(", classes: %d", o.classes);
    printf(", grid size: %lldx%lld%s = %ld (R = %f)\n", (long long)ny, (long long)nz, o.elliptical ? "x(pi/4)" : "",
           (long)((float)f * (float)ny * (float)nz),
           (double)((float)f * (float)o.classes * (float)ny * (float)nz / (float)points));
    return cfl_save_dims(a->pos[0], &c, bd);
}

/* whether two files have the same 16 sizes; else the usage error */
static int same_sizes(const args *a, const int64_t x[NAX], const int64_t y[NAX], const char *yname)
{
    int ax;
    for (ax = 0; ax < NAX; ax++)
        if (x[ax] != y[ax]) {
            char msg[120];
            snprintf(msg, sizeof(msg), "sizes differ from the first input's on axis %d (%lld, not %lld)", ax,
                     (long long)y[ax], (long long)x[ax]);
            return usage_error(a, msg, yname);
        }
    return 0;
}

/* saxpy SCALE IN1 IN2 OUT: OUT = SCALE * IN1 + IN2 (the same sizes) */
static int cmd_saxpy(const args *a)
{
    mv_vol x, y;
    int64_t bx[NAX], by[NAX], i, n;
    float z[2];
    int rc;
    if ((rc = arg_cfl(a, a->pos[0], z))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &x, bx))) return rc;
    if ((rc = cfl_load_folded(a->pos[2], &y, by))) {
        mv_free(&x);
        return rc;
    }
    if ((rc = same_sizes(a, bx, by, a->pos[2]))) {
        mv_free(&x), mv_free(&y);
        return rc;
    }
    n = count16(bx);
    for (i = 0; i < n; i++) {
        float *o = (float *)y.data + 2 * i;
        const float *p = (const float *)x.data + 2 * i;
        o[0] = (z[0] * p[0] - z[1] * p[1]) + o[0];
        o[1] = (z[0] * p[1] + z[1] * p[0]) + o[1];
    }
    mv_free(&x);
    return cfl_save_dims(a->pos[3], &y, by);
}

/* ---- products and sums ---- */

/* BART's md_merge_dims: each axis 1 in one file or the same in both */
static int merge_sizes(const args *a, const int64_t x[NAX], const int64_t y[NAX], const char *yname, int64_t out[NAX])
{
    int ax;
    for (ax = 0; ax < NAX; ax++) {
        if (x[ax] != y[ax] && x[ax] != 1 && y[ax] != 1) {
            char msg[120];
            snprintf(msg, sizeof(msg), "axis %d: %lld against the first input's %lld (each must be 1 or the other's)",
                     ax, (long long)y[ax], (long long)x[ax]);
            return usage_error(a, msg, yname);
        }
        out[ax] = x[ax] == 1 ? y[ax] : x[ax];
    }
    return 0;
}

/* strides of an array of sizes d walked over sizes full: 0 along its axes of 1 */
static void bstrides_of(const int64_t d[NAX], const int64_t full[NAX], int64_t s[NAX])
{
    int ax;
    strides_of(d, s);
    for (ax = 0; ax < NAX; ax++)
        if (d[ax] == 1 && full[ax] != 1) s[ax] = 0;
}

/* out (sizes od: full's with the summed axes 1) += x * y (conjugated),
   x and y broadcast to full */
static void fmac16(float *out, const int64_t od[NAX], const float *x, const int64_t xd[NAX], const float *y,
                   const int64_t yd[NAX], const int64_t full[NAX], int conj)
{
    int64_t os[NAX], xs[NAX], ys[NAX];
    walk w;
    float *base[3];
    bstrides_of(od, full, os);
    bstrides_of(xd, full, xs);
    bstrides_of(yd, full, ys);
    walk_init(&w, full, 3, os, xs, ys);
    base[0] = out, base[1] = (float *)x, base[2] = (float *)y;
    walk_run(&w, base, line_fmac, &conj);
}

/* p[0] += p[1] conj(p[1]) (BART's md_zss: zfmacc), the product as gcc
   rounds it: a*a - b*(-b), and a*(-b) + b*a in the imaginary part, which is
   0 but for huge parts whose products overflow (then NaN, as bart's) */
static void line_sumsq(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        float *o = p[0] + 2 * i * s[0];
        const float *x = p[1] + 2 * i * s[1], nb = -x[1];
        o[0] += x[0] * x[0] - x[1] * nb;
        o[1] += x[0] * nb + x[1] * x[0];
    }
}

/* p[0] += 1 in p[0]'s real part for each nonzero sample of p[1] (BART's
   zcmp with 0: -0 is zero) */
static void line_count(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        const float *x = p[1] + 2 * i * s[1];
        if (x[0] != 0.0f || x[1] != 0.0f) p[0][2 * i * s[0]] += 1.0f;
    }
}

/* p[0] += |p[1]| in p[0]'s real part (hypotf: BART's zabs, then zadd) */
static void line_sumabs(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        const float *x = p[1] + 2 * i * s[1];
        p[0][2 * i * s[0]] += hypotf(x[0], x[1]);
    }
}

/* p[0] = p[1] / p[2], 0 where p[2] is 0: BART's zdiv, its complex division
   the compiler's (libgcc's __divsc3) */
static void line_zdiv(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        float *o = p[0] + 2 * i * s[0];
        const float *x = p[1] + 2 * i * s[1], *y = p[2] + 2 * i * s[2];
        if (y[0] == 0.f && y[1] == 0.f) {
            o[0] = o[1] = 0.f;
        } else {
            const float _Complex q = cf_of(x[0], x[1]) / cf_of(y[0], y[1]);
            o[0] = crealf(q), o[1] = cimagf(q);
        }
    }
}

/* out (sizes od: xd's with the reduced axes 1) gathers x through fn (ctx passed on) */
static void reduce16_ctx(float *out, const int64_t od[NAX], const float *x, const int64_t xd[NAX], line_fn fn,
                         void *ctx)
{
    int64_t os[NAX], xs[NAX];
    walk w;
    float *base[3];
    bstrides_of(od, xd, os);
    strides_of(xd, xs);
    walk_init(&w, xd, 2, os, xs, NULL);
    base[0] = out, base[1] = (float *)x, base[2] = NULL;
    walk_run(&w, base, fn, ctx);
}

/* out (sizes od: xd's with the reduced axes 1) gathers x through fn */
static void reduce16(float *out, const int64_t od[NAX], const float *x, const int64_t xd[NAX], line_fn fn)
{
    reduce16_ctx(out, od, x, xd, fn, NULL);
}

static const float one_sample[2] = {1.0f, 0.0f};

/* fmac [-A] [-C] [-s BITMASK] IN1 [IN2] OUT */
static int cmd_fmac(const args *a)
{
    mv_vol x, y, o;
    int64_t xd[NAX], yd[NAX], full[NAX], od[NAX], squash = 0;
    const char *out = a->pos[a->npos - 1];
    const int two = a->npos == 3;
    int ax, rc;
    if ((rc = opt_int(a, "-s", 0, 65535, "-s: a bitmask of BART's axes, 0 .. 65535", &squash))) return rc;
    mv_vol_init(&y);
    if ((rc = cfl_load_mapped(a->pos[0], &x, xd))) return rc;
    ones16(yd);
    if (two && (rc = cfl_load_mapped(a->pos[1], &y, yd))) {
        mv_free(&x);
        return rc;
    }
    rc = merge_sizes(a, xd, yd, two ? a->pos[1] : "", full);
    for (ax = 0; ax < NAX; ax++) od[ax] = (squash >> ax & 1) ? 1 : full[ax];
    mv_vol_init(&o);
    if (!rc && opt_flag(a, "-A")) { /* add to OUT, which must hold od's sizes */
        int64_t ed[NAX];
        if (!(rc = cfl_load_folded(out, &o, ed))) rc = same_sizes(a, od, ed, out);
    } else if (!rc) {
        rc = alloc16(&o, od, out);
    }
    if (!rc)
        fmac16((float *)o.data, od, (const float *)x.data, xd, two ? (const float *)y.data : one_sample, yd, full,
               opt_flag(a, "-C"));
    mv_free(&x), mv_free(&y);
    if (rc) {
        mv_free(&o);
        return rc;
    }
    return cfl_save_dims(out, &o, od);
}

/* The start every reduction shares (avg, var, std, mip, normalize,
   pattern): IN loaded (mapped when only read), the result's sizes od (xd
   with the axes of flags 1) allocated zeroed in o, *count the samples
   reduced into each (may be NULL); exit status, nothing held on failure */
static int reduce_open(const char *in, const char *out, int64_t flags, int mapped, mv_vol *x, int64_t xd[NAX],
                       mv_vol *o, int64_t od[NAX], int64_t *count)
{
    int ax, rc;
    if ((rc = (mapped ? cfl_load_mapped : cfl_load_folded)(in, x, xd))) return rc;
    if (count) *count = 1;
    for (ax = 0; ax < NAX; ax++) {
        od[ax] = (flags >> ax & 1) ? 1 : xd[ax];
        if (count && (flags >> ax & 1)) *count *= xd[ax];
    }
    if ((rc = alloc16(o, od, out))) mv_free(x);
    return rc;
}

/* out (zeroed, sizes od) = the mean of x over count samples each: BART's
   md_zavg, the sum as fmac's with (1, 0), times the float of 1 / count */
static void mean_into(float *out, const int64_t od[NAX], const float *x, const int64_t xd[NAX], int64_t count)
{
    int64_t ones[NAX], i;
    const int64_t n = count16(od);
    const float f = (float)(1.0 / (double)count);
    ones16(ones);
    fmac16(out, od, x, xd, one_sample, ones, xd, 0);
    for (i = 0; i < 2 * n; i++) out[i] *= f;
}

/* avg [-w] BITMASK IN OUT: BART's md_zavg (mean_into) or md_zwavg (-w:
   the sum over the nonzero samples' count, 0 where none is) */
static int cmd_avg(const args *a)
{
    mv_vol x, o, w;
    int64_t xd[NAX], od[NAX], flags = 0, count = 1, i, n;
    float *op, *wp;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK: the axes to average, 0 .. 65535", &flags))) return rc;
    if ((rc = reduce_open(a->pos[1], a->pos[2], flags, 1, &x, xd, &o, od, &count))) return rc;
    op = (float *)o.data, n = count16(od);
    if (!opt_flag(a, "-w")) {
        mean_into(op, od, (const float *)x.data, xd, count);
    } else { /* the sum, then each output's count of nonzero samples */
        int64_t ones[NAX];
        if ((rc = alloc16(&w, od, a->pos[2]))) {
            mv_free(&x), mv_free(&o);
            return rc;
        }
        ones16(ones);
        fmac16(op, od, (const float *)x.data, xd, one_sample, ones, xd, 0);
        wp = (float *)w.data;
        reduce16(wp, od, (const float *)x.data, xd, line_count);
        for (i = 0; i < n; i++) {
            const float c = wp[2 * i];
            op[2 * i] = c == 0.0f ? 0.0f : op[2 * i] / c;
            op[2 * i + 1] = c == 0.0f ? 0.0f : op[2 * i + 1] / c;
        }
        mv_free(&w);
    }
    mv_free(&x);
    return cfl_save_dims(a->pos[2], &o, od);
}

/* p[0] += d conj(d) with d = p[1] - p[2] in float: BART's md_zvar's
   deviations (md_zsub2) and their sum of squares (md_zss's zfmacc, the
   product as gcc rounds it), in one pass with no array of deviations */
static void line_devsq(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        float *o = p[0] + 2 * i * s[0];
        const float *x = p[1] + 2 * i * s[1], *m = p[2] + 2 * i * s[2];
        const float dr = x[0] - m[0], di = x[1] - m[1], ndi = -di;
        o[0] += dr * dr - di * ndi;
        o[1] += dr * ndi + di * dr;
    }
}

/* var / std BITMASK IN OUT: bart var (md_zvar: the mean as avg's, the
   deviations in float, their squares x conj(x) summed, times the float of
   1 / (n - 1); one sample: NaN, as bart's 0 / 0) and bart std (its square
   root, each float part) */
static int var_run(const args *a, int std)
{
    mv_vol x, o, m;
    int64_t xd[NAX], od[NAX], flags = 0, count = 1, i, n;
    float *op;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK: the axes to reduce, 0 .. 65535", &flags))) return rc;
    if ((rc = reduce_open(a->pos[1], a->pos[2], flags, 1, &x, xd, &o, od, &count))) return rc;
    if ((rc = alloc16(&m, od, a->pos[2]))) {
        mv_free(&x), mv_free(&o);
        return rc;
    }
    mean_into((float *)m.data, od, (const float *)x.data, xd, count);
    {
        int64_t os[NAX], xs[NAX];
        walk w;
        float *base[3];
        bstrides_of(od, xd, os);
        strides_of(xd, xs);
        walk_init(&w, xd, 3, os, xs, os);
        base[0] = (float *)o.data, base[1] = (float *)x.data, base[2] = (float *)m.data;
        walk_run(&w, base, line_devsq, NULL);
    }
    mv_free(&x), mv_free(&m);
    op = (float *)o.data, n = count16(od);
    {
        const float f = (float)(1.0 / ((double)count - 1.0));
        for (i = 0; i < 2 * n; i++) op[i] *= f;
    }
    if (std)
        for (i = 0; i < 2 * n; i++) op[i] = sqrtf(op[i]);
    return cfl_save_dims(a->pos[2], &o, od);
}
static int cmd_var(const args *a) { return var_run(a, 0); }
static int cmd_std(const args *a) { return var_run(a, 1); }

/* p[0] = max(p[0], value of p[1]) in the real part, as BART's MAX (a > b ?
   a : b) over md_max2's float view: the real part (-a: |x|); min with
   ctx's second flag */
static void line_mip(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    const int *f = (const int *)ctx; /* {abs, min} */
    int64_t i;
    for (i = 0; i < n; i++) {
        float *o = p[0] + 2 * i * s[0];
        const float *x = p[1] + 2 * i * s[1], v = f[0] ? hypotf(x[0], x[1]) : x[0];
        o[0] = f[1] ? (o[0] < v ? o[0] : v) : (o[0] > v ? o[0] : v);
    }
}

/* mip [-m] [-a] BITMASK IN OUT: bart mip: the largest real part (|x| with
   -a) over the axes of BITMASK, from 0 (bart clears its output first);
   -m the smallest, taken after that maximum as bart takes it */
static int cmd_mip(const args *a)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], flags = 0;
    int f[2], rc;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK: the axes to project, 0 .. 65535", &flags))) return rc;
    if ((rc = reduce_open(a->pos[1], a->pos[2], flags, 1, &x, xd, &o, od, NULL))) return rc;
    f[0] = opt_flag(a, "-a"), f[1] = 0;
    reduce16_ctx((float *)o.data, od, (const float *)x.data, xd, line_mip, f);
    if (opt_flag(a, "-m")) {
        f[1] = 1;
        reduce16_ctx((float *)o.data, od, (const float *)x.data, xd, line_mip, f);
    }
    mv_free(&x);
    return cfl_save_dims(a->pos[2], &o, od);
}

/* normalize [-b] FLAGS IN OUT: bart normalize: each group along the axes
   of FLAGS divided by its l2 norm (the root of the float sum of x
   conj(x)), or with -b its l1 norm (the float sum of |x|), by gcc's complex
   division (libgcc's __divsc3, as bart's md_zdiv); 0 where the norm is 0 */
static int cmd_normalize(const args *a)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], xs[NAX], os[NAX], flags = 0, i, n;
    const int l1 = opt_flag(a, "-b");
    float *op;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "FLAGS: the axes of a group, 0 .. 65535", &flags))) return rc;
    if ((rc = reduce_open(a->pos[1], a->pos[2], flags, 0, &x, xd, &o, od, NULL))) return rc; /* divided in place */
    op = (float *)o.data;
    reduce16((float *)op, od, (const float *)x.data, xd, l1 ? line_sumabs : line_sumsq);
    n = count16(od);
    if (!l1)
        for (i = 0; i < 2 * n; i++) op[i] = sqrtf(op[i]);
    { /* x / norm, broadcast over the group */
        walk w;
        float *base[3];
        strides_of(xd, xs);
        bstrides_of(od, xd, os);
        walk_init(&w, xd, 3, xs, xs, os);
        base[0] = (float *)x.data, base[1] = (float *)x.data, base[2] = op;
        walk_run(&w, base, line_zdiv, NULL);
    }
    mv_free(&o);
    return cfl_save_dims(a->pos[2], &x, xd);
}

/* pattern [-s BITMASK] KSPACE OUT: 1 where the root sum of squares over
   the axes of BITMASK (default 8, the coils) is nonzero, else 0: the sum of
   re^2 + im^2 in float, as BART's (so samples whose squares underflow
   count as zero there too) */
static int cmd_pattern(const args *a)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], flags = 8, k, n;
    float *op;
    int rc;
    if ((rc = opt_int(a, "-s", 0, 65535, "-s: a bitmask of BART's axes, 0 .. 65535", &flags))) return rc;
    if ((rc = reduce_open(a->pos[0], a->pos[1], flags, 1, &x, xd, &o, od, NULL))) return rc;
    op = (float *)o.data;
    reduce16(op, od, (const float *)x.data, xd, line_sumsq);
    n = count16(od);
    for (k = 0; k < n; k++) { /* bart's 1 - (rss == 0), complex: a NaN sum is 1 */
        op[2 * k] = op[2 * k] == 0.0f && op[2 * k + 1] == 0.0f ? 0.0f : 1.0f;
        op[2 * k + 1] = 0.0f;
    }
    mv_free(&x);
    return cfl_save_dims(a->pos[1], &o, od);
}

/* two files of the same sizes, loaded; exit status */
static int load_pair(const args *a, const char *p1, mv_vol *x, const char *p2, mv_vol *y, int64_t d[NAX])
{
    int64_t d2[NAX];
    int rc;
    if ((rc = cfl_load_folded(p1, x, d))) return rc;
    if (!(rc = cfl_load_mapped(p2, y, d2)) && (rc = same_sizes(a, d, d2, p2))) mv_free(y);
    if (rc) mv_free(x);
    return rc;
}

/* sum over samples of x * conj(y), each product in float, summed in
   float64 (BART's md_zscalar, whose sum is complex double) */
static void zscalar(const float *x, const float *y, int64_t n, double out[2])
{
    int64_t i;
    out[0] = out[1] = 0.0;
    for (i = 0; i < n; i++, x += 2, y += 2) {
        out[0] += (double)(x[0] * y[0] + x[1] * y[1]);
        out[1] += (double)(x[1] * y[0] - x[0] * y[1]);
    }
}

/* nrmse [-t EPS] [-s] REFERENCE INPUT: prints ||INPUT - REF|| / ||REF||
   as bart's "%f"; exit 1 when above EPS. -s scales REF first by the least
   squares factor sum(INPUT conj(REF)) / ||REF||^2, printed before as bart
   prints it ("Scaled by: %f%+fi", on stdout too) */
/* BART's md_zrms from the float64 sum of squares of n samples: the norm in
   float, over sqrtl(n) in long double, rounded to float */
static float rms_of(double squares, int64_t n)
{
    return (float)((long double)sqrtf((float)squares) / sqrtl((long double)n));
}

static int cmd_nrmse(const args *a)
{
    mv_vol r, x;
    int64_t d[NAX], n, i;
    double t = -1.0, dd = 0.0, rr = 0.0;
    const char *ts = opt_str(a, "-t");
    float err, *rp;
    const float *xp;
    int rc;
    if (ts && (parse_list(ts, &t, 1) != 1 || t < 0.0)) return usage_error(a, "-t: a tolerance >= 0", ts);
    if ((rc = load_pair(a, a->pos[0], &r, a->pos[1], &x, d))) return rc;
    n = count16(d);
    rp = (float *)r.data, xp = (const float *)x.data;
    if (opt_flag(a, "-s")) {
        double sc[2], sq = 0.0;
        float nr, s[2];
        for (i = 0; i < 2 * n; i++) sq += (double)(rp[i] * rp[i]); /* md_znorm: bart's dot of the floats */
        nr = sqrtf((float)sq);
        if (nr == 0.0f) {
            mv_free(&r), mv_free(&x);
            return fail_at(mv_set_error(MV_ERR_BAD_DATA, "'%s': the reference has zero norm (nrmse -s)", a->pos[0]),
                           a->pos[0]);
        }
        zscalar(xp, rp, n, sc);
        s[0] = (float)sc[0] / (nr * nr), s[1] = (float)sc[1] / (nr * nr);
        printf("Scaled by: %f%+fi\n", (double)s[0], (double)s[1]);
        map_samples(rp, n, MAP_SCALE, s);
    }
    for (i = 0; i < 2 * n; i++) { /* the difference in float, its squares summed in float64 as bart's dot */
        const float e = rp[i] - xp[i];
        dd += (double)(e * e);
        rr += (double)(rp[i] * rp[i]);
    }
    mv_free(&r), mv_free(&x);
    err = rms_of(dd, n) / rms_of(rr, n);
    printf("%f\n", (double)err);
    return err <= (ts ? (float)t : err) ? 0 : 1; /* bart's test: a NaN (float overflow) exits 1 too */
}

/* measure [--mse | --mse-mag | --ssim | --psnr] REFERENCE INPUT [OUT]
   (bart measure): mv_measure over each item of BART's batch axis 15,
   averaged and printed as bart prints them (all eight with their names,
   or the one chosen), or written to OUT (one value per measure along axis
   0, one row per item of axis 15) */
static int cmd_measure(const args *a)
{
    static const char *names[2][8] = {
        {"mse mag", "mse", "mean psnr", "mean ssim", "mad", "mad mag", "nmse", "nmse mag"},
        {"mse rss", "mse", "mean psnr (rss)", "mean ssim (rss)", "mad", "mad rss", "nmse", "nmse rss"}};
    static const char *sel[4] = {"--mse", "--mse-mag", "--ssim", "--psnr"};
    static const int sel_at[4] = {1, 0, 3, 2}; /* their places among the eight */
    mv_vol r, x, o, vr, vx;
    mv_measures m;
    int64_t d[NAX], od[NAX], b, nb, slab;
    double avg[8] = {0};
    int rc, chosen = -1, k, nout, j;
    mv_status st = MV_OK;
    for (k = 0; k < 4; k++)
        if (opt_flag(a, sel[k])) {
            if (chosen >= 0) return usage_error(a, "one of --mse, --mse-mag, --ssim, --psnr", sel[k]);
            chosen = k;
        }
    nout = chosen < 0 ? 8 : 1;
    if ((rc = load_pair(a, a->pos[0], &r, a->pos[1], &x, d))) return rc;
    nb = d[NAX - 1], slab = count16(d) / nb;
    for (k = 0; k < NAX; k++) od[k] = k == 0 ? nout : k == NAX - 1 ? nb : 1;
    mv_vol_init(&o);
    if (a->npos > 2 && (rc = alloc16(&o, od, a->pos[2]))) {
        mv_free(&r), mv_free(&x);
        return rc;
    }
    for (b = 0; b < nb && st == MV_OK; b++) {
        double v[8];
        vr = r, vx = x; /* one item of axis 15: the folded last axis divided by its count */
        vr.dim[MV_MAX_DIMS - 1] = vx.dim[MV_MAX_DIMS - 1] = r.dim[MV_MAX_DIMS - 1] / nb;
        vr.data = (float *)r.data + 2 * b * slab, vx.data = (float *)x.data + 2 * b * slab;
        vr.flags = vx.flags = 0;
        st = mv_measure(&vx, &vr, &m);
        v[0] = m.mse_mag, v[1] = m.mse, v[2] = m.psnr, v[3] = m.ssim, v[4] = m.mad, v[5] = m.mad_mag, v[6] = m.nmse;
        v[7] = m.nmse_mag;
        for (j = 0; j < nout; j++) {
            const double w = v[chosen < 0 ? j : sel_at[chosen]];
            avg[j] += w / (double)nb;
            if (o.data) ((float *)o.data)[2 * (b * nout + j)] = (float)w;
        }
    }
    mv_free(&r), mv_free(&x);
    if (st != MV_OK) {
        mv_free(&o);
        return fail_at(st, a->pos[1]);
    }
    if (o.data) return cfl_save_dims(a->pos[2], &o, od);
    for (j = 0; j < nout; j++) {
        if (chosen >= 0) {
            printf("%e\n", (double)(float)avg[j]);
            continue;
        }
        printf("%s:%*s%e\n", names[d[3] > 1][j], (int)(24 - strlen(names[d[3] > 1][j])), "", (double)(float)avg[j]);
    }
    return 0;
}

/* sdot IN1 IN2: prints sum(IN1 conj(IN2)) as bart's "%+e%+ei" */
static int cmd_sdot(const args *a)
{
    mv_vol x, y;
    int64_t d[NAX];
    double s[2];
    int rc;
    if ((rc = load_pair(a, a->pos[0], &x, a->pos[1], &y, d))) return rc;
    zscalar((const float *)x.data, (const float *)y.data, count16(d), s);
    mv_free(&x), mv_free(&y);
    printf("%+e%+ei\n", (double)(float)s[0], (double)(float)s[1]);
    return 0;
}

/* ---- moving samples ---- */

/* groups of per words from the first: an axis 0 .. 15, then per - 1
   whole numbers >= 0 into v[axis] (sizes, positions); given[axis] set (an
   axis given twice: the last group, as bart) */
static int axis_groups(const args *a, int groups, int per, int64_t v[NAX][2], int given[NAX])
{
    int k, j, rc;
    memset(given, 0, NAX * sizeof(int));
    for (k = 0; k < groups; k++) {
        int64_t ax = 0;
        if ((rc = arg_int(a, a->pos[per * k], 0, NAX - 1, "DIM: an axis 0 .. 15", &ax))) return rc;
        for (j = 1; j < per; j++)
            if ((rc = arg_int(a, a->pos[per * k + j], 0, MVT_BIG, "a whole number >= 0", &v[ax][j - 1]))) return rc;
        given[ax] = 1;
    }
    return 0;
}

/* resize [-c] (DIM SIZE)... IN OUT, crop DIM SIZE IN OUT: truncated or
   padded with zeros at the end, or (-c, crop) about BART's centre (the
   FFT's: the block at |out/2 - in/2| in the longer) */
static int resize_run(const args *a, int centred)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], pos[NAX], v[NAX][2];
    int given[NAX], ax, rc, pairs = (a->npos - 2) / 2;
    const char *in = a->pos[a->npos - 2], *out = a->pos[a->npos - 1];
    if (a->npos < 4 || a->npos % 2) return usage_error(a, "(DIM SIZE) pairs, then IN OUT", NULL);
    if ((rc = axis_groups(a, pairs, 2, v, given))) return rc;
    for (ax = 0; ax < NAX; ax++)
        if (given[ax] && v[ax][0] < 1) return usage_error(a, "SIZE: a size >= 1", a->pos[0]);
    if ((rc = cfl_load_mapped(in, &x, xd))) return rc;
    for (ax = 0; ax < NAX; ax++) {
        od[ax] = given[ax] ? v[ax][0] : xd[ax];
        pos[ax] = centred ? llabs(od[ax] / 2 - xd[ax] / 2) : 0;
    }
    if ((rc = sizes_fit(a, od, a->pos[0])) || (rc = alloc16(&o, od, out))) {
        mv_free(&x);
        return rc;
    }
    return block_save(a, out, &o, od, &x, xd, pos);
}
static int cmd_resize(const args *a) { return resize_run(a, opt_flag(a, "-c")); }
static int cmd_crop(const args *a) { return resize_run(a, 1); }

/* extract (DIM START END)... IN OUT, slice (DIM POS)... IN OUT: the block
   [START, END) (a slice: the one position, its axis 1) */
static int block_run(const args *a, int per)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], pos[NAX], v[NAX][2];
    int given[NAX], ax, rc, groups = (a->npos - 2) / per;
    const char *in = a->pos[a->npos - 2], *out = a->pos[a->npos - 1];
    if (a->npos < per + 2 || (a->npos - 2) % per)
        return usage_error(a, per == 3 ? "(DIM START END) triples, then IN OUT" : "(DIM POS) pairs, then IN OUT", NULL);
    if ((rc = axis_groups(a, groups, per, v, given))) return rc;
    if ((rc = cfl_load_mapped(in, &x, xd))) return rc;
    for (ax = 0; ax < NAX; ax++) {
        int64_t lo = 0, hi = xd[ax];
        if (given[ax]) lo = v[ax][0], hi = per == 3 ? v[ax][1] : lo + 1;
        if (lo >= hi || hi > xd[ax]) {
            char msg[120];
            snprintf(msg, sizeof(msg), "axis %d: [%lld, %lld) is no block of its %lld", ax, (long long)lo, (long long)hi,
                     (long long)xd[ax]);
            mv_free(&x);
            return usage_error(a, msg, in);
        }
        od[ax] = hi - lo, pos[ax] = od[ax] < xd[ax] ? lo : 0;
    }
    if ((rc = alloc16(&o, od, out))) {
        mv_free(&x);
        return rc;
    }
    return block_save(a, out, &o, od, &x, xd, pos);
}
static int cmd_extract(const args *a) { return block_run(a, 3); }
static int cmd_slice(const args *a) { return block_run(a, 2); }

/* copy [(DIM POS)...] IN OUT: IN whole into a new OUT, or with positions
   into OUT, which must exist, at POS along each DIM (BART's md_copy_block:
   where IN is the longer, the block of OUT's length from POS in IN) */
static int cmd_copy(const args *a)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], pos[NAX], v[NAX][2];
    int given[NAX], ax, rc, pairs = (a->npos - 2) / 2;
    const char *in = a->pos[a->npos - 2], *out = a->pos[a->npos - 1];
    if (a->npos % 2) return usage_error(a, "(DIM POS) pairs, then IN OUT", NULL);
    if ((rc = axis_groups(a, pairs, 2, v, given))) return rc;
    if ((rc = cfl_load_mapped(in, &x, xd))) return rc;
    if (pairs == 0) return cfl_save_dims(out, &x, xd);
    if ((rc = cfl_load_folded(out, &o, od))) {
        mv_free(&x);
        return rc;
    }
    for (ax = 0; ax < NAX; ax++) pos[ax] = given[ax] ? v[ax][0] : 0;
    return block_save(a, out, &o, od, &x, xd, pos);
}

/* join [-a] DIM IN... OUT: along DIM, the other axes equal; -a appends to
   OUT when it exists (it comes first), as bart join -a */
static int cmd_join(const args *a)
{
    mv_vol *v, o;
    int64_t dim = 0, (*d)[NAX], od[NAX], off = 0;
    const char *out = a->pos[a->npos - 1];
    int n = a->npos - 2, first = 1, k, ax, rc = 0, append = 0;
    if ((rc = arg_int(a, a->pos[0], 0, NAX - 1, "DIM: an axis 0 .. 15", &dim))) return rc;
    if (opt_flag(a, "-a")) {
        char *name = (char *)malloc(strlen(out) + 5);
        FILE *f;
        if (!name) return fail_at(MV_ERR_OUT_OF_MEMORY, out);
        sprintf(name, "%s.cfl", out);
        f = has_suffix(out, ".cfl") ? fopen(out, "rb") : fopen(name, "rb");
        free(name);
        if (f) fclose(f), append = 1, n++, first = 0;
    }
    v = (mv_vol *)calloc((size_t)n, sizeof(*v));
    d = (int64_t(*)[NAX])calloc((size_t)n, sizeof(*d));
    if (!v || !d) {
        free(v), free(d);
        return fail_at(MV_ERR_OUT_OF_MEMORY, out);
    }
    for (k = 0; k < n && !rc; k++) {
        const char *name = k == 0 && append ? out : a->pos[k + first];
        if ((rc = cfl_load_mapped(name, &v[k], d[k]))) break;
        for (ax = 0; ax < NAX && !rc; ax++)
            if (ax != dim && d[k][ax] != d[0][ax]) {
                char msg[120];
                snprintf(msg, sizeof(msg), "axis %d: %lld, not the first input's %lld (only DIM may differ)", ax,
                         (long long)d[k][ax], (long long)d[0][ax]);
                rc = usage_error(a, msg, name);
            }
        if (!rc && off > MVT_BIG - d[k][dim]) rc = usage_error(a, "the joined axis exceeds 2^53", name);
        if (!rc) off += d[k][dim];
    }
    if (!rc) {
        memcpy(od, d[0], sizeof(od));
        od[dim] = off;
        rc = alloc16(&o, od, out);
    }
    if (!rc) {
        int64_t pos[NAX];
        memset(pos, 0, sizeof(pos));
        for (k = 0; k < n && !rc; k++) {
            rc = copy_block(a, (float *)o.data, od, (const float *)v[k].data, d[k], pos);
            pos[dim] += d[k][dim];
        }
        if (rc) mv_free(&o);
    }
    for (k = 0; k < n; k++) mv_free(&v[k]);
    free(v), free(d);
    return rc ? rc : cfl_save_dims(out, &o, od);
}

/* a moved view of IN as OUT of sizes od: in's strides is from offset ioff */
static int view_save(const char *out, mv_vol *x, const int64_t od[NAX], int64_t ioff, const int64_t is[NAX])
{
    mv_vol o;
    int rc = alloc16(&o, od, out);
    if (!rc) copy_sub((float *)o.data, od, 0, (const float *)x->data, ioff, is, od);
    mv_free(x);
    return rc ? rc : cfl_save_dims(out, &o, od);
}

/* flip BITMASK IN OUT (bart flip): reversed along the axes of BITMASK.
   mvtool flip IN OUT AXES (NIfTI) is examples/mvtool_ops.c's; it calls
   this when its first word is a number. */
int mvtool_flip_bart(const args *a)
{
    mv_vol x;
    int64_t xd[NAX], xs[NAX], flags = 0, off = 0;
    int ax, rc;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK: the axes to flip, 0 .. 65535 (bart flip's)", &flags)))
        return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &x, xd))) return rc;
    strides_of(xd, xs);
    for (ax = 0; ax < NAX; ax++)
        if (flags >> ax & 1) off += (xd[ax] - 1) * xs[ax], xs[ax] = -xs[ax];
    return view_save(a->pos[2], &x, xd, off, xs);
}

/* circshift DIM SHIFT IN OUT: OUT[(i + SHIFT) mod n] = IN[i] along DIM
   (numpy.roll; bart 0.8 asserts on a SHIFT of n or more, taken mod n here) */
static int cmd_circshift(const args *a)
{
    mv_vol x, o;
    int64_t dim = 0, shift = 0, xd[NAX], xs[NAX], lo[NAX], hi[NAX];
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, NAX - 1, "DIM: an axis 0 .. 15", &dim)) ||
        (rc = arg_int(a, a->pos[1], -MVT_BIG, MVT_BIG, "SHIFT: a whole number", &shift)))
        return rc;
    if ((rc = cfl_load_mapped(a->pos[2], &x, xd))) return rc;
    shift %= xd[dim];
    if (shift < 0) shift += xd[dim];
    if ((rc = alloc16(&o, xd, a->pos[3]))) {
        mv_free(&x);
        return rc;
    }
    /* two blocks: IN's last SHIFT to OUT's start, IN's first n - SHIFT after them */
    strides_of(xd, xs);
    memcpy(lo, xd, sizeof(lo)), memcpy(hi, xd, sizeof(hi));
    lo[dim] = shift, hi[dim] = xd[dim] - shift;
    if (shift) copy_sub((float *)o.data, xd, 0, (const float *)x.data, hi[dim] * xs[dim], xs, lo);
    copy_sub((float *)o.data, xd, shift * xs[dim], (const float *)x.data, 0, xs, hi);
    mv_free(&x);
    return cfl_save_dims(a->pos[3], &o, xd);
}

/* transpose DIM1 DIM2 IN OUT: the two axes swapped */
static int cmd_transpose(const args *a)
{
    mv_vol x;
    int64_t d1 = 0, d2 = 0, xd[NAX], xs[NAX], t;
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, NAX - 1, "DIM1: an axis 0 .. 15", &d1)) ||
        (rc = arg_int(a, a->pos[1], 0, NAX - 1, "DIM2: an axis 0 .. 15", &d2)))
        return rc;
    if ((rc = cfl_load_mapped(a->pos[2], &x, xd))) return rc;
    strides_of(xd, xs);
    t = xd[d1], xd[d1] = xd[d2], xd[d2] = t;
    t = xs[d1], xs[d1] = xs[d2], xs[d2] = t;
    return view_save(a->pos[3], &x, xd, 0, xs);
}

/* repmat DIM REPS IN OUT: IN, of size 1 along DIM, repeated REPS times */
static int cmd_repmat(const args *a)
{
    mv_vol x;
    int64_t dim = 0, reps = 0, xd[NAX], xs[NAX];
    int rc;
    if ((rc = arg_int(a, a->pos[0], 0, NAX - 1, "DIM: an axis 0 .. 15", &dim)) ||
        (rc = arg_int(a, a->pos[1], 1, MVT_BIG, "REPS: a whole number >= 1", &reps)))
        return rc;
    if ((rc = cfl_load_mapped(a->pos[2], &x, xd))) return rc;
    if (xd[dim] != 1) {
        mv_free(&x);
        return usage_error(a, "IN must have size 1 along DIM", a->pos[2]);
    }
    strides_of(xd, xs);
    xd[dim] = reps, xs[dim] = 0;
    if ((rc = sizes_fit(a, xd, a->pos[1]))) {
        mv_free(&x);
        return rc;
    }
    return view_save(a->pos[3], &x, xd, 0, xs);
}

/* reshape FLAGS D1 .. DN IN OUT: the axes of FLAGS take the sizes D1 .. DN
   (as many as FLAGS has bits, the same product), their samples in the same
   order for every position along the other axes (BART's md_reshape: the
   flagged axes moved to the front, reshaped there, moved back) */
static int cmd_reshape(const args *a)
{
    mv_vol x, t;
    int64_t flags = 0, xd[NAX], od[NAX], order[NAX], pd[NAX], ps[NAX], xs[NAX], qd[NAX], bs[NAX], prod_in = 1,
            prod_out = 1;
    int ax, k = 0, j = 0, rc, bits = 0;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "FLAGS: a bitmask of BART's axes, 0 .. 65535", &flags))) return rc;
    for (ax = 0; ax < NAX; ax++) bits += (int)(flags >> ax & 1);
    if (a->npos != bits + 3) return usage_error(a, "one size per bit of FLAGS, then IN OUT", a->pos[0]);
    if ((rc = cfl_load_mapped(a->pos[a->npos - 2], &x, xd))) return rc;
    memcpy(od, xd, sizeof(od));
    for (ax = 0; ax < NAX; ax++)
        if (flags >> ax & 1) {
            if ((rc = arg_int(a, a->pos[1 + k++], 1, MVT_BIG, "a size >= 1", &od[ax]))) {
                mv_free(&x);
                return rc;
            }
            prod_in *= xd[ax];
            if (prod_out > MVT_BIG / od[ax]) prod_out = -1;
            if (prod_out > 0) prod_out *= od[ax];
        }
    if (prod_in != prod_out) {
        mv_free(&x);
        return usage_error(a, "the new sizes' product differs from the flagged axes' samples", a->pos[0]);
    }
    /* order: the flagged axes, then the others; x permuted so into t */
    for (ax = 0; ax < NAX; ax++)
        if (flags >> ax & 1) order[j++] = ax;
    for (ax = 0; ax < NAX; ax++)
        if (!(flags >> ax & 1)) order[j++] = ax;
    strides_of(xd, xs);
    for (k = 0; k < NAX; k++) pd[k] = xd[order[k]], ps[k] = xs[order[k]];
    if ((rc = alloc16(&t, pd, a->pos[a->npos - 1]))) {
        mv_free(&x);
        return rc;
    }
    copy_sub((float *)t.data, pd, 0, (const float *)x.data, 0, ps, pd);
    mv_free(&x);
    /* t read as the permuted new sizes, moved back to OUT's order */
    for (k = 0; k < NAX; k++) qd[k] = od[order[k]];
    strides_of(qd, ps);
    for (k = 0; k < NAX; k++) bs[order[k]] = ps[k];
    return view_save(a->pos[a->npos - 1], &t, od, 0, bs);
}

/* squeeze IN OUT: the axes longer than 1, in order, the samples as they are */
static int cmd_squeeze(const args *a)
{
    mv_vol x;
    int64_t xd[NAX], od[NAX];
    int ax, j = 0, rc;
    if ((rc = cfl_load_mapped(a->pos[0], &x, xd))) return rc;
    ones16(od);
    for (ax = 0; ax < NAX; ax++)
        if (xd[ax] > 1) od[j++] = xd[ax];
    /* the same samples: only the header changes (cfl_save_dims checks the count) */
    return cfl_save_dims(a->pos[1], &x, od);
}

/* bitmask D1 .. DN: prints the bitmask of the axes; bitmask -b MASK: its
   axes, each followed by a space (bart bitmask's output) */
static int cmd_bitmask(const args *a)
{
    int64_t v = 0, flags = 0;
    int k, rc;
    if (opt_flag(a, "-b")) {
        if (a->npos != 1) return usage_error(a, "-b takes exactly one BITMASK", NULL);
        if ((rc = arg_int(a, a->pos[0], 0, ((int64_t)1 << 62) - 1, "BITMASK: a whole number >= 0", &flags)))
            return rc;
        for (k = 0; flags; k++, flags >>= 1)
            if (flags & 1) printf("%d ", k);
        printf("\n");
        return 0;
    }
    for (k = 0; k < a->npos; k++) {
        if ((rc = arg_int(a, a->pos[k], 0, 62, "DIM: an axis 0 .. 62", &v))) return rc;
        flags |= (int64_t)1 << v;
    }
    printf("%lld\n", (long long)flags);
    return 0;
}

/* whether fmt is one of bart show's formats: "%+W.Pf%+W.Pfi", the same with
   e, or either pair separated by a comma (W.P: digits and dots, at least
   one), so that printf is given nothing else */
static int show_format_ok(const char *fmt)
{
    int part;
    char letter = 0;
    const char *p = fmt;
    for (part = 0; part < 2; part++) {
        const char *q;
        if (part == 1 && *p == ',') p++;
        if (p[0] != '%' || p[1] != '+') return 0;
        for (q = p += 2; (*p >= '0' && *p <= '9') || *p == '.'; p++) {}
        if (p == q || (*p != 'f' && *p != 'e') || (letter && *p != letter)) return 0;
        letter = *p++;
    }
    if (*p == 'i') return p[1] == 0 && strchr(fmt, ',') == NULL;
    return *p == 0 && strchr(fmt, ',') != NULL;
}

/* show [-m] [-d DIM] [-s SEP] [-f FORMAT] IN: bart show's text: the
   samples, a line per run along the first axis longer than 1, SEP (a
   tab) between them, each printf'd by FORMAT (default %+.6e%+.6ei); -m
   the type and 16 sizes, -d one axis's size */
static int cmd_show(const args *a)
{
    mv_vol x;
    int64_t xd[NAX], dim = -1, i, n, run;
    const char *sep = opt_str(a, "-s"), *fmt = opt_str(a, "-f");
    const float *p;
    int ax, rc;
    if ((rc = opt_int(a, "-d", 0, NAX - 1, "-d: an axis 0 .. 15", &dim))) return rc;
    if (!sep) sep = "\t";
    if (!fmt) fmt = "%+.6e%+.6ei";
    if (!show_format_ok(fmt)) return usage_error(a, "-f: a format such as %+.6e%+.6ei or %+.3f,%+.3f", fmt);
    if ((rc = cfl_load_mapped(a->pos[0], &x, xd))) return rc;
    if (dim >= 0) {
        printf("%lld\n", (long long)xd[dim]);
    } else if (opt_flag(a, "-m")) {
        printf("Type: complex float\nDimensions: %d\nAoD:", NAX);
        for (ax = 0; ax < NAX; ax++) printf("\t%lld", (long long)xd[ax]);
        printf("\n");
    } else {
        for (ax = 0; ax < NAX - 1 && xd[ax] == 1; ax++) {}
        run = xd[ax], n = count16(xd), p = (const float *)x.data;
        for (i = 0; i < n; i++) {
            printf(fmt, (double)p[2 * i], (double)p[2 * i + 1]);
            fputs((i + 1) % run == 0 ? "\n" : sep, stdout);
        }
    }
    mv_free(&x);
    return 0;
}

/* The command table (STYLE P11). */
/* ---- FOV shifts and sub-pixel shifts ---- */

/* p[0] = p[1] * p[2], gcc's complex product (BART's zmul) */
static void line_zmul(void *ctx, int64_t n, float *const p[3], const int64_t s[3])
{
    int64_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        float *o = p[0] + 2 * i * s[0];
        const float *x = p[1] + 2 * i * s[1], *y = p[2] + 2 * i * s[2];
        const float re = x[0] * y[0] - x[1] * y[1], im = x[0] * y[1] + x[1] * y[0];
        o[0] = re, o[1] = im;
    }
}

/* BART's zexpj of a float phase v (its imaginary part +0): cexpf(1.I * v),
   the product in double as gcc forms it */
static void expj_of(float vr, float vi, float *out)
{
    const double re = 0.0 * (double)vr - 1.0 * (double)vi, im = 0.0 * (double)vi + 1.0 * (double)vr;
    const float _Complex e = cexpf(cf_of((float)re, (float)im));
    out[0] = crealf(e), out[1] = cimagf(e);
}

/* BART's linear_phase over IN's axes 0..2 for a shift of s FOVs: grad_n =
   2 pi (s_n N_n) / N_n, the phase sum_n x_n grad_n - sum_n grad_n N_n / 2
   in float, e^(i phase) */
static void linear_phase16(const int64_t bd[NAX], const float s[3], float *ph)
{
    float grad[3], cn = 0.0f, v;
    int64_t x, y, z;
    int n;
    for (n = 0; n < 3; n++) {
        const float pos = s[n] * (float)bd[n];
        grad[n] = (float)(2. * 3.14159265358979323846 * (double)pos / (double)(float)bd[n]);
        cn = (float)((double)cn - (double)(grad[n] * (float)bd[n]) / 2.);
    }
    for (z = 0; z < bd[2]; z++)
        for (y = 0; y < bd[1]; y++)
            for (x = 0; x < bd[0]; x++) {
                v = ((0.0f + (float)x * grad[0]) + (float)y * grad[1]) + (float)z * grad[2];
                expj_of(v + cn, 0.0f, ph + 2 * (x + bd[0] * (y + bd[1] * z)));
            }
}

/* BART's noncart_shift: e^(2 pi i k . s) per trajectory point, k . s
   summed in complex float from 0 (md_ztenmul), times 2 pi i in float
   (md_zsmul), cexpf (md_zexp) */
static void traj_phase16(const float *t, int64_t npts, const float s[3], float *ph)
{
    const float w = (float)(2. * 3.14159265358979323846);
    int64_t i;
    int c;
    for (i = 0; i < npts; i++, t += 6) {
        float re = 0.0f, im = 0.0f, ar, ai;
        float _Complex e;
        for (c = 0; c < 3; c++) {
            const float pr = t[2 * c] * s[c] - t[2 * c + 1] * 0.0f, pi = t[2 * c] * 0.0f + t[2 * c + 1] * s[c];
            re += pr, im += pi;
        }
        ar = re * 0.0f - im * w, ai = re * w + im * 0.0f;
        e = cexpf(cf_of(ar, ai));
        ph[2 * i] = crealf(e), ph[2 * i + 1] = cimagf(e);
    }
}

/* fovshift [-t TRAJ] [-s X:Y:Z] IN OUT (bart fovshift): IN times the
   phase of a shift of the field of view by s (in FOVs): Cartesian k-space
   along IN's axes 0..2 (BART's linear_phase), or samples at TRAJ's points
   (k in grid units), the phase broadcast over IN (each axis 1 or IN's) */
static int cmd_fovshift(const args *a)
{
    const char *tf = opt_str(a, "-t");
    float s[3] = {0, 0, 0};
    mv_vol in, tr, ph, out;
    int64_t bd[NAX], pd[NAX], td[NAX], is[NAX], ps[NAX], os[NAX];
    walk w;
    float *base[3];
    int rc, ax;
    memset(&ph, 0, sizeof(ph));
    if ((rc = opt_floats(a, "-s", s, 3))) return rc;
    if ((rc = cfl_load_mapped(a->pos[0], &in, bd))) return rc;
    ones16(pd);
    if (tf) {
        if ((rc = cfl_load_mapped(tf, &tr, td))) {
            mv_free(&in);
            return rc;
        }
        for (ax = 1; ax < NAX; ax++) pd[ax] = td[ax];
        rc = td[0] != 3 ? usage_error(a, "-t: a trajectory has 3 coordinates along its first axis", tf) : 0;
        for (ax = 0; ax < NAX && !rc; ax++)
            if (pd[ax] != 1 && pd[ax] != bd[ax])
                rc = usage_error(a, "-t: each axis of the trajectory's points 1 or IN's", tf);
        if (!rc) rc = alloc16(&ph, pd, a->pos[1]);
        if (!rc) traj_phase16((const float *)tr.data, count16(pd), s, (float *)ph.data);
        mv_free(&tr);
    } else {
        pd[0] = bd[0], pd[1] = bd[1], pd[2] = bd[2];
        if (!(rc = alloc16(&ph, pd, a->pos[1]))) linear_phase16(bd, s, (float *)ph.data);
    }
    if (!rc) rc = alloc16(&out, bd, a->pos[1]);
    if (rc) {
        mv_free(&in), mv_free(&ph);
        return rc;
    }
    strides_of(bd, os), strides_of(bd, is);
    bstrides_of(pd, bd, ps);
    walk_init(&w, bd, 3, os, is, ps);
    base[0] = (float *)out.data, base[1] = (float *)in.data, base[2] = (float *)ph.data;
    walk_run(&w, base, line_zmul, NULL);
    mv_free(&in), mv_free(&ph);
    return cfl_save_dims(a->pos[1], &out, bd);
}

/* estshift FLAGS IN1 IN2 (bart estshift): the sub-pixel shift of IN1
   against IN2 along each axis of FLAGS, from the phase of the cross
   spectrum's neighbour products (BART's est_subpixel_shift: unitary centred
   FFTs over FLAGS, Q = F1 conj(F2), per axis sum conj(Q[p + 1]) Q[p],
   cyclic, its angle / 2 pi times the axis's length) */
static int cmd_estshift(const args *a)
{
    mv_vol x, y;
    int64_t flags = 0, d[NAX], st[NAX], n, p, q;
    int rc, ax;
    mv_status s1, s2;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "FLAGS: a bitmask of axes, 0 .. 65535", &flags))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &x, d))) return rc;
    if ((rc = cfl_load_folded(a->pos[2], &y, st)) || (rc = same_sizes(a, d, st, a->pos[2]))) {
        mv_free(&x), mv_free(&y); /* a failed load leaves y empty */
        return rc;
    }
    s1 = bart_fft_samples((float *)x.data, d, (unsigned)flags, 0, MV_FFT_ORTHO, 1);
    s2 = s1 == MV_OK ? bart_fft_samples((float *)y.data, d, (unsigned)flags, 0, MV_FFT_ORTHO, 1) : s1;
    if (s2 != MV_OK) {
        mv_free(&x), mv_free(&y);
        return fail_at(s2, a->pos[1]);
    }
    n = count16(d);
    for (p = 0; p < n; p++) { /* Q = F1 conj(F2), in float as md_zmulc */
        float *u = (float *)x.data + 2 * p;
        const float *v = (const float *)y.data + 2 * p;
        const float re = u[0] * v[0] + u[1] * v[1], im = u[1] * v[0] - u[0] * v[1];
        u[0] = re, u[1] = im;
    }
    strides_of(d, st);
    printf("Shifts:");
    for (ax = 0; ax < NAX; ax++) {
        double sr = 0, si = 0;
        float sc[2];
        if (!(flags >> ax & 1)) continue;
        for (p = 0; p < n; p++) { /* md_zscalar(shifted, Q): Q[p] conj(Q[p + e_ax]) */
            const int64_t c = p / st[ax] % d[ax];
            const float *u = (const float *)x.data + 2 * p;
            const float *v;
            q = c + 1 < d[ax] ? p + st[ax] : p - c * st[ax];
            v = (const float *)x.data + 2 * q;
            sr += (double)(u[0] * v[0] + u[1] * v[1]);
            si += (double)(u[1] * v[0] - u[0] * v[1]);
        }
        sc[0] = (float)sr, sc[1] = (float)si;
        printf("\t%f", (float)((double)atan2f(sc[1], sc[0]) / (2. * 3.14159265358979323846) * (double)(float)d[ax]));
    }
    printf("\n");
    mv_free(&x), mv_free(&y);
    return 0;
}

/* rof, tgv, ictv: IN's axes of FLAGS longer than 1 (at most three) moved
   in front for the library, in axis order, the others folded into its
   batch axis 3: perm the new order, *k the moved axes, p the library's
   (x, y, z, batch) array; x is freed. Exit status: the usage error past
   three axes. */
static int tv_fold_axes(const args *a, mv_vol *x, const int64_t bd[NAX], int64_t flags, int perm[NAX], int *k,
                        mv_vol *p)
{
    int64_t xs[NAX], pd[NAX], is[NAX], vd[4] = {1, 1, 1, 1};
    int ax, j, rc;
    *k = 0;
    for (ax = 0; ax < NAX; ax++)
        if ((flags >> ax & 1) && bd[ax] > 1) perm[(*k)++] = ax;
    if (*k > 3) {
        mv_free(x);
        return usage_error(a, "FLAGS: at most three axes longer than 1 (medvol's TV differences three)", a->pos[1]);
    }
    for (ax = 0, j = *k; ax < NAX; ax++)
        if (!((flags >> ax & 1) && bd[ax] > 1)) perm[j++] = ax;
    strides_of(bd, xs);
    for (j = 0; j < NAX; j++) pd[j] = bd[perm[j]], is[j] = xs[perm[j]];
    for (j = 0; j < NAX; j++) vd[j < 3 ? j : 3] *= pd[j];
    if ((rc = alloc16(p, pd, a->pos[a->npos - 1]))) {
        mv_free(x);
        return rc;
    }
    copy_sub((float *)p->data, pd, 0, (const float *)x->data, 0, is, pd);
    mv_free(x);
    p->ndim = 4;
    for (j = 0; j < MV_MAX_DIMS; j++) p->dim[j] = j < 4 ? vd[j] : 1;
    return 0;
}

/* the library's component c of r (its (x, y, z, batch) in perm's order)
   back to IN's order bd, into component `to` of out */
static void tv_unfold(float *out, int64_t to, const mv_vol *r, int64_t c, const int64_t bd[NAX], const int perm[NAX])
{
    int64_t pd[NAX], ps[NAX], is[NAX], n = 1;
    int j;
    for (j = 0; j < NAX; j++) pd[j] = bd[perm[j]], n *= bd[j];
    strides_of(pd, ps);
    for (j = 0; j < NAX; j++) is[perm[j]] = ps[j];
    copy_sub(out, bd, to * n, (const float *)r->data, c * n, is, bd);
}

/* rof LAMBDA FLAGS IN OUT (bart rof): total-variation denoising along the
   axes of FLAGS (mv_tv_denoise: bart rof's ADMM, rho 0.1, 50 iterations),
   the axes moved by tv_fold_axes. */
static int cmd_rof(const args *a)
{
    mv_vol x, p, r;
    mv_tv_opts o;
    int64_t flags = 0, bd[NAX];
    int perm[NAX], k = 0, ax, rc;
    char *end;
    const float lam = strtof(a->pos[0], &end);
    mv_status st;
    if (end == a->pos[0] || *end || !(lam >= 0.0f) || !isfinite(lam))
        return usage_error(a, "LAMBDA: a number >= 0", a->pos[0]);
    if ((rc = arg_int(a, a->pos[1], 0, 65535, "FLAGS: a bitmask of axes, 0 .. 65535", &flags))) return rc;
    if ((rc = cfl_load_folded(a->pos[2], &x, bd))) return rc;
    for (ax = 0; ax < NAX; ax++) k += (flags >> ax & 1) && bd[ax] > 1;
    if (k == 0) /* nothing to difference: bart's ADMM returns IN */
        return cfl_save_dims(a->pos[3], &x, bd);
    if ((rc = tv_fold_axes(a, &x, bd, flags, perm, &k, &p))) return rc;
    memset(&o, 0, sizeof(o));
    o.axes = (1u << k) - 1u;
    for (ax = 0; ax < NAX; ax++) o.components += (int)(flags >> ax & 1); /* BART's gradient: every flagged axis */
    st = mv_tv_denoise(&p, &r, (double)lam, &o);
    mv_free(&p);
    if (st != MV_OK) return fail_at(st, a->pos[2]);
    if ((rc = alloc16(&x, bd, a->pos[3]))) {
        mv_free(&r);
        return rc;
    }
    tv_unfold((float *)x.data, 0, &r, 0, bd, perm);
    mv_free(&r);
    return cfl_save_dims(a->pos[3], &x, bd);
}

/* the flagged axes below axis ax: BART's index of ax's gradient component */
static int64_t flag_rank(int64_t flags, int ax)
{
    int64_t c = 0;
    int j;
    for (j = 0; j < ax; j++) c += flags >> j & 1;
    return c;
}

/* tgv LAMBDA FLAGS IN OUT (bart tgv) and [-i ITER] [-u RHO] LAMBDA FLAGS1
   FLAGS2 IN OUT (bart ictv): mv_tgv_denoise / mv_ictv_denoise along the
   axes of FLAGS (ictv: of FLAGS1 and FLAGS2 together, moved in front as
   rof's). OUT is BART's: IN's sizes with its last axis (15) the
   components, tgv's image and one field per flagged axis (zero along an
   axis of one sample), ictv's image and its second part. */
static int tgv_or_ictv(const args *a, int ictv)
{
    mv_vol x, p, r;
    mv_tgv_opts o;
    int64_t flags[2] = {0, 0}, bd[NAX], od[NAX], iters = 0, all, nc;
    int perm[NAX], k = 0, ax, rc, c, j;
    const int fi = ictv ? 3 : 2; /* IN's position */
    const char *u = opt_str(a, "-u"), *w;
    char *end;
    const float lam = strtof(a->pos[0], &end);
    float rho = 0;
    mv_status st;
    if (end == a->pos[0] || *end || !(lam >= 0.0f) || !isfinite(lam))
        return usage_error(a, "LAMBDA: a number >= 0", a->pos[0]);
    for (j = 0; j < 1 + ictv; j++)
        if ((rc = arg_int(a, a->pos[1 + j], ictv, 65535,
                          ictv ? "FLAGS: a bitmask of axes, 1 .. 65535" : "FLAGS: a bitmask of axes, 0 .. 65535",
                          &flags[j])))
            return rc;
    if ((w = opt_str(a, "-i")) && (rc = arg_int(a, w, 1, 1000000, "-i: iterations >= 1", &iters))) return rc;
    if ((rc = opt_floats(a, "-u", &rho, 1))) return rc;
    if (u && !(rho > 0)) return usage_error(a, "-u: rho > 0", u);
    all = flags[0] | flags[1];
    if ((rc = cfl_load_folded(a->pos[fi], &x, bd))) return rc;
    if (bd[NAX - 1] != 1) {
        mv_free(&x);
        return usage_error(a, "IN: its axis 15 holds OUT's components (size 1)", a->pos[fi]);
    }
    nc = ictv ? 2 : 1 + flag_rank(flags[0], NAX);
    memcpy(od, bd, sizeof(od));
    od[NAX - 1] = nc;
    for (ax = 0; ax < NAX; ax++) k += (all >> ax & 1) && bd[ax] > 1;
    if (k == 0 && !ictv) { /* nothing to difference: bart's ADMM returns IN, its fields 0 */
        if ((rc = alloc16(&p, od, a->pos[fi + 1]))) {
            mv_free(&x);
            return rc;
        }
        memcpy(p.data, x.data, (size_t)mv_vol_bytes(&x));
        mv_free(&x);
        return cfl_save_dims(a->pos[fi + 1], &p, od);
    }
    if ((rc = tv_fold_axes(a, &x, bd, all, perm, &k, &p))) return rc;
    memset(&o, 0, sizeof(o));
    for (c = 0; c < k; c++) {
        o.axes |= (unsigned)(flags[0] >> perm[c] & 1) << c;
        o.axes2 |= (unsigned)(flags[1] >> perm[c] & 1) << c;
    }
    o.components = (int)flag_rank(flags[0], NAX), o.components2 = (int)flag_rank(flags[1], NAX);
    o.iterations = (int)iters, o.rho = rho;
    if (ictv && (!o.axes || !o.axes2)) { /* a TV along axes of one sample only (the library's 0 is all of them) */
        mv_free(&p);
        return usage_error(a, "FLAGS1, FLAGS2: each flags an axis longer than 1", a->pos[o.axes ? 2 : 1]);
    }
    st = ictv ? mv_ictv_denoise(&p, &r, (double)lam, &o) : mv_tgv_denoise(&p, &r, (double)lam, &o);
    mv_free(&p);
    if (st != MV_OK) return fail_at(st, a->pos[fi]);
    if ((rc = alloc16(&x, od, a->pos[fi + 1]))) {
        mv_free(&r);
        return rc;
    }
    tv_unfold((float *)x.data, 0, &r, 0, bd, perm);
    if (ictv) tv_unfold((float *)x.data, 1, &r, 1, bd, perm);
    for (c = 0; !ictv && c < (int)(r.dim[4] - 1); c++) /* field c: the c-th moved axis's */
        tv_unfold((float *)x.data, 1 + flag_rank(flags[0], perm[c]), &r, 1 + c, bd, perm);
    mv_free(&r);
    return cfl_save_dims(a->pos[fi + 1], &x, od);
}

static int cmd_tgv(const args *a) { return tgv_or_ictv(a, 0); }
static int cmd_ictv(const args *a) { return tgv_or_ictv(a, 1); }

/* whiten [-o OPTMAT] [-c COVAR] [-n] IN NDATA OUT [OPTMAT_OUT [COVAR_OUT]]
   (bart whiten): IN's channels whitened against the noise NDATA
   (mv_noise_whiten), the whitening matrix and the noise covariance written
   when named (BART's layout, (1, 1, 1, C, C)) */
static int cmd_whiten(const args *a)
{
    const char *of = opt_str(a, "-o"), *cf = opt_str(a, "-c");
    mv_vol in, nz, om, cm, out, wm, km;
    mv_whiten_opts o;
    int64_t bd[NAX], md[NAX];
    int rc = 0;
    mv_status st;
    memset(&o, 0, sizeof(o));
    memset(&om, 0, sizeof(om)), memset(&cm, 0, sizeof(cm)), memset(&wm, 0, sizeof(wm)), memset(&km, 0, sizeof(km));
    if ((rc = cfl_load_folded(a->pos[0], &in, bd))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &nz, NULL))) {
        mv_free(&in);
        return rc;
    }
    if (of && !(rc = cfl_load_folded(of, &om, NULL))) o.matrix = &om;
    if (!rc && cf && !(rc = cfl_load_folded(cf, &cm, NULL))) o.covariance = &cm;
    if (rc) {
        mv_free(&in), mv_free(&nz), mv_free(&om);
        return rc;
    }
    o.normalize = opt_flag(a, "-n");
    if (a->npos > 3) o.matrix_out = &wm;
    if (a->npos > 4) o.covariance_out = &km;
    st = mv_noise_whiten(&in, &nz, &out, &o);
    mv_free(&in), mv_free(&nz), mv_free(&om), mv_free(&cm);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    ones16(md);
    md[3] = md[4] = bd[3];
    if (a->npos > 3 && (rc = cfl_save_dims(a->pos[3], &wm, md))) {
        mv_free(&out), mv_free(&km);
        return rc;
    }
    if (a->npos > 4 && (rc = cfl_save_dims(a->pos[4], &km, md))) {
        mv_free(&out);
        return rc;
    }
    return cfl_save_dims(a->pos[2], &out, bd);
}

/* conv BITMASK IN KERNEL OUT (bart conv): IN cyclically convolved with
   KERNEL along the axes of BITMASK, the kernel's centre (K - 1) / 2 at
   offset 0 (BART's CONV_CYCLIC, CONV_SYMMETRIC): OUT[x] = sum_k
   KERNEL[k] IN[x - k + (K - 1) / 2 mod n], by FFTs as bart computes it;
   along the other axes KERNEL is 1 or IN's size (a kernel per position) */
static int cmd_conv(const args *a)
{
    mv_vol x, h, p;
    int64_t flags = 0, bd[NAX], kd[NAX], pd[NAX], ks[NAX], ps[NAX], xs[NAX], n, i;
    unsigned tflags = 0;
    int rc, ax;
    mv_status st;
    walk w;
    float *base[3];
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK: the axes to convolve along, 0 .. 65535", &flags))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &x, bd))) return rc;
    if ((rc = cfl_load_mapped(a->pos[2], &h, kd))) {
        mv_free(&x);
        return rc;
    }
    for (ax = 0; ax < NAX && !rc; ax++) {
        if ((flags >> ax & 1) ? kd[ax] > bd[ax] : (kd[ax] != 1 && kd[ax] != bd[ax]))
            rc = usage_error(a, (flags >> ax & 1) ? "KERNEL: longer than IN along an axis of BITMASK"
                                                  : "KERNEL: along the other axes 1 or IN's size", a->pos[2]);
        pd[ax] = (flags >> ax & 1) && kd[ax] > 1 ? bd[ax] : kd[ax];
        if ((flags >> ax & 1) && pd[ax] > 1) tflags |= 1u << ax;
    }
    if (!rc) rc = alloc16(&p, pd, a->pos[3]);
    if (rc) {
        mv_free(&x), mv_free(&h);
        return rc;
    }
    /* the kernel at offsets k - (K - 1) / 2 mod n along the convolved axes */
    memset(p.data, 0, (size_t)count16(pd) * 8);
    strides_of(kd, ks), strides_of(pd, ps);
    n = count16(kd);
    for (i = 0; i < n; i++) {
        int64_t off = 0;
        for (ax = 0; ax < NAX; ax++) {
            int64_t c = i / ks[ax] % kd[ax];
            if (tflags >> ax & 1) c = ((c - (kd[ax] - 1) / 2) % pd[ax] + pd[ax]) % pd[ax];
            off += c * ps[ax];
        }
        ((float *)p.data)[2 * off] = ((const float *)h.data)[2 * i];
        ((float *)p.data)[2 * off + 1] = ((const float *)h.data)[2 * i + 1];
    }
    mv_free(&h);
    st = bart_fft_samples((float *)x.data, bd, (unsigned)flags, 0, MV_FFT_BACKWARD, 0);
    if (st == MV_OK) st = bart_fft_samples((float *)p.data, pd, tflags, 0, MV_FFT_BACKWARD, 0);
    if (st == MV_OK) { /* IN's spectrum times the kernel's, broadcast; in place */
        strides_of(bd, xs);
        bstrides_of(pd, bd, ps);
        walk_init(&w, bd, 3, xs, xs, ps);
        base[0] = (float *)x.data, base[1] = (float *)x.data, base[2] = (float *)p.data;
        walk_run(&w, base, line_zmul, NULL);
        st = bart_fft_samples((float *)x.data, bd, (unsigned)flags, 1, MV_FFT_BACKWARD, 0);
    }
    mv_free(&p);
    if (st != MV_OK) {
        mv_free(&x);
        return fail_at(st, a->pos[1]);
    }
    return cfl_save_dims(a->pos[3], &x, bd);
}

/* window [-H] FLAGS IN OUT (bart window): IN times a Hamming window (0.54
   - 0.46 cos(2 pi i / (N - 1)); -H Hann's 0.5 and 0.5) along each axis of
   FLAGS in turn, lowest first, each window sample in float as BART's
   nary_zwindow (1 for N = 1), each product gcc's complex product: bart's
   bytes */
static int cmd_window(const args *a)
{
    const float alpha = opt_flag(a, "-H") ? 0.5f : 0.54f, beta = opt_flag(a, "-H") ? 0.5f : 0.46f;
    mv_vol x, wv;
    int64_t flags = 0, bd[NAX], wd[NAX], xs[NAX], ws[NAX], i;
    int rc, ax;
    walk w;
    float *base[3];
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "FLAGS: a bitmask of axes, 0 .. 65535", &flags))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &x, bd))) return rc;
    strides_of(bd, xs);
    for (ax = 0; ax < NAX; ax++) {
        if (!(flags >> ax & 1)) continue;
        ones16(wd);
        wd[ax] = bd[ax];
        if ((rc = alloc16(&wv, wd, a->pos[2]))) {
            mv_free(&x);
            return rc;
        }
        for (i = 0; i < bd[ax]; i++) {
            ((float *)wv.data)[2 * i] =
                bd[ax] == 1 ? 1.0f : alpha - beta * cosf((float)(2. * 3.14159265358979323846 * (double)i / (double)(bd[ax] - 1)));
            ((float *)wv.data)[2 * i + 1] = 0.0f;
        }
        bstrides_of(wd, bd, ws);
        walk_init(&w, bd, 3, xs, xs, ws);
        base[0] = (float *)x.data, base[1] = (float *)x.data, base[2] = (float *)wv.data;
        walk_run(&w, base, line_zmul, NULL);
        mv_free(&wv);
    }
    return cfl_save_dims(a->pos[2], &x, bd);
}

/* multicfl IN1 .. INN MULTI | -s MULTI OUT1 .. OUTN (bart multicfl): BART's
   multi-cfl pair, the arrays' samples one after another in MULTI.cfl and a
   header whose "# Dimensions" is their total (so a plain reader, medvol's
   and BART's load_cfl, sees one long array), "# SizesDimensions" the
   number of sizes of each and "# MultiDimensions" their sizes, a line each */
static int multicfl_combine(const args *a)
{
    const int n = a->npos - 1;
    const char *name = a->pos[n];
    mv_vol *in = (mv_vol *)calloc((size_t)n, sizeof(mv_vol)), all;
    int64_t (*bd)[NAX] = (int64_t(*)[NAX])calloc((size_t)n, sizeof(*bd)), total = 0, od[NAX];
    char *hdr = NULL, *tmp = NULL;
    size_t len = 0, cap;
    int i, ax, rc = 0;
    FILE *f;
    if (!in || !bd) {
        free(in), free(bd);
        return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "multicfl: %d inputs", n), name);
    }
    for (i = 0; i < n && !rc; i++)
        if ((rc = cfl_load_mapped(a->pos[i], &in[i], bd[i])) == 0) total += count16(bd[i]);
    ones16(od);
    od[0] = total;
    cap = 128 + (size_t)n * (NAX * 21 + 8);
    if (!rc && !(hdr = (char *)malloc(cap))) rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "multicfl: header"), name);
    if (!rc && (rc = alloc16(&all, od, name)) == 0) {
        int64_t at = 0;
        for (i = 0; i < n; i++) {
            memcpy((float *)all.data + 2 * at, in[i].data, (size_t)count16(bd[i]) * 8);
            at += count16(bd[i]);
        }
        len = (size_t)snprintf(hdr, cap, "# Dimensions\n%lld \n# SizesDimensions\n", (long long)total);
        for (i = 0; i < n; i++) len += (size_t)snprintf(hdr + len, cap - len, "%d ", NAX);
        len += (size_t)snprintf(hdr + len, cap - len, "\n# MultiDimensions\n");
        for (i = 0; i < n; i++) {
            for (ax = 0; ax < NAX; ax++) len += (size_t)snprintf(hdr + len, cap - len, "%lld ", (long long)bd[i][ax]);
            len += (size_t)snprintf(hdr + len, cap - len, "\n");
        }
        /* the samples and a plain header first (the pair readable at every moment), then the multi header in place */
        rc = cfl_save_dims(name, &all, od);
        tmp = (char *)malloc(strlen(name) + 32);
        if (!rc && !tmp) rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "multicfl: name"), name);
        if (!rc) {
            char target[4096];
            snprintf(target, sizeof(target), "%s.hdr", name);
            snprintf(tmp, strlen(name) + 32, "%s.hdr.mvtmp-%ld", name, (long)getpid());
            f = fopen(tmp, "wb");
            if (!f || fwrite(hdr, 1, len, f) != len || fclose(f) != 0 || rename(tmp, target) != 0) {
                if (f) remove(tmp);
                rc = fail_at(mv_set_error(MV_ERR_IO, "multicfl: writing the header '%s'", target), name);
            }
        }
    }
    for (i = 0; i < n; i++) mv_free(&in[i]);
    free(in), free(bd), free(hdr), free(tmp);
    return rc;
}

/* the sizes of a multi-cfl header: count arrays of 16 sizes into bd; 0 or the failure */
static int multicfl_read_header(const char *name, int want, int64_t (*bd)[NAX])
{
    char path[4096], text[4097], *p;
    size_t got;
    int count = 0, i, ax;
    FILE *f;
    snprintf(path, sizeof(path), "%s.hdr", name);
    if (!(f = fopen(path, "rb"))) return fail_at(mv_set_error(MV_ERR_IO, "'%s': cannot open", path), name);
    got = fread(text, 1, 4096, f); /* BART reads the first 4096 bytes */
    fclose(f);
    text[got] = 0;
    if (!(p = strstr(text, "# SizesDimensions\n")))
        return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s': no \"# SizesDimensions\": not a multi-cfl header", path), name);
    p += 18;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (v < 1 || v > NAX) return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s': an array of %ld sizes (1 .. 16)", path, v), name);
        count++;
        p = end;
        while (*p == ' ') p++;
        if (*p == '\n') break;
    }
    if (count != want)
        return fail_at(mv_set_error(MV_ERR_INVALID_ARG, "'%s' holds %d arrays, %d outputs given", path, count, want), name);
    if (!(p = strstr(text, "# MultiDimensions\n")))
        return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s': no \"# MultiDimensions\"", path), name);
    p += 18;
    for (i = 0; i < count; i++)
        for (ax = 0; ax < NAX; ax++) {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p) { /* fewer sizes on this line: the rest are 1 */
                bd[i][ax] = 1;
                continue;
            }
            if (v < 1 || v > MVT_BIG) return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s': array %d size %lld", path, i, v), name);
            bd[i][ax] = v;
            p = end;
            while (*p == ' ') p++;
            if (*p == '\n' && ax < NAX - 1) { /* the line ends: the rest of this array's sizes are 1 */
                for (ax++; ax < NAX; ax++) bd[i][ax] = 1;
            }
            if (*p == '\n') p++;
        }
    return 0;
}

static int multicfl_split(const args *a)
{
    const int n = a->npos - 1;
    int64_t (*bd)[NAX] = (int64_t(*)[NAX])calloc((size_t)n, sizeof(*bd)), md[NAX], total = 0, at = 0;
    mv_vol m, o;
    int i, rc;
    if (!bd) return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "multicfl -s"), a->pos[0]);
    if ((rc = multicfl_read_header(a->pos[0], n, bd))) {
        free(bd);
        return rc;
    }
    for (i = 0; i < n; i++) { /* sizes from the file: their products and sum kept below 2^53 before they are trusted */
        int64_t prod = 1;
        int ax;
        for (ax = 0; ax < NAX; ax++) {
            if (bd[i][ax] > MVT_BIG / prod) break;
            prod *= bd[i][ax];
        }
        if (ax < NAX || prod > MVT_BIG - total) {
            free(bd);
            return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s.hdr': array %d's sizes hold more than 2^53 samples", a->pos[0], i),
                           a->pos[0]);
        }
        total += prod;
    }
    if ((rc = cfl_load_mapped(a->pos[0], &m, md))) {
        free(bd);
        return rc;
    }
    if (count16(md) != total) {
        mv_free(&m), free(bd);
        return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s': its arrays hold %lld samples, its Dimensions %lld", a->pos[0],
                                    (long long)total, (long long)count16(md)), a->pos[0]);
    }
    for (i = 0; i < n && !rc; i++) {
        if ((rc = alloc16(&o, bd[i], a->pos[1 + i]))) break;
        memcpy(o.data, (const float *)m.data + 2 * at, (size_t)count16(bd[i]) * 8);
        at += count16(bd[i]);
        rc = cfl_save_dims(a->pos[1 + i], &o, bd[i]);
    }
    mv_free(&m);
    free(bd);
    return rc;
}

static int cmd_multicfl(const args *a) { return opt_flag(a, "-s") ? multicfl_split(a) : multicfl_combine(a); }

/* flatten IN OUT: the samples as one axis (bart flatten) */
static int cmd_flatten(const args *a)
{
    mv_vol x;
    int64_t xd[NAX], od[NAX], n = 1;
    int ax, rc;
    if ((rc = cfl_load_mapped(a->pos[0], &x, xd))) return rc;
    for (ax = 0; ax < NAX; ax++) n *= xd[ax];
    ones16(od);
    od[0] = n;
    return cfl_save_dims(a->pos[1], &x, od);
}

/* casorati DIM1 KERN1 ... DIMN KERNN IN OUT (bart casorati): row p = each
   position of a block of KERN samples along the DIMs (the whole axis along
   the others), column q = each sample in the block; OUT (positions, block
   samples), both counted first axis fastest: OUT[p + P q] = IN[pos(p) +
   off(q)], as BART's md_copy2 over its 2N-dimensional view */
static int cmd_casorati(const args *a)
{
    mv_vol x, o;
    int64_t xd[NAX], kd[NAX], pd[NAX], od[NAX], st[NAX], P = 1, Q = 1, v, pi[NAX], qi[NAX], p, q;
    int ax, i, rc;
    const float *src;
    float *dst;
    if (a->npos < 4 || a->npos % 2) return usage_error(a, "DIM KERN pairs, then IN and OUT", NULL);
    if ((rc = cfl_load_mapped(a->pos[a->npos - 2], &x, xd))) return rc;
    for (ax = 0; ax < NAX; ax++) kd[ax] = xd[ax];
    for (i = 0; i + 2 < a->npos; i += 2) {
        int64_t dim, kern;
        if ((rc = arg_int(a, a->pos[i], 0, NAX - 1, "DIM: an axis 0 .. 15", &dim)) ||
            (rc = arg_int(a, a->pos[i + 1], 1, MVT_BIG, "KERN: a size >= 1", &kern))) {
            mv_free(&x);
            return rc;
        }
        kd[dim] = kern; /* an axis given twice: the last (bart's) */
    }
    for (ax = 0; ax < NAX; ax++)
        if (kd[ax] > xd[ax]) { /* bart asserts */
            char msg[80];
            snprintf(msg, sizeof(msg), "%lld", (long long)kd[ax]);
            mv_free(&x);
            return usage_error(a, "a KERN is longer than its axis", msg);
        }
    for (ax = 0, v = 1; ax < NAX; ax++) {
        pd[ax] = xd[ax] - kd[ax] + 1;
        P *= pd[ax], Q *= kd[ax];
        st[ax] = v, v *= xd[ax];
        pi[ax] = qi[ax] = 0;
    }
    ones16(od);
    od[0] = P, od[1] = Q;
    {
        int64_t dd[2];
        dd[0] = P, dd[1] = Q;
        mv_vol_init(&o);
        if (Q > ((int64_t)1 << 40) / P || mv_vol_alloc(&o, MV_DT_C64, 2, dd, NULL) != MV_OK) { /* P, Q >= 1 */
            mv_free(&x);
            return fail_at(MV_ERR_OUT_OF_MEMORY, a->pos[a->npos - 1]);
        }
    }
    src = (const float *)x.data, dst = (float *)o.data;
    for (q = 0; q < Q; q++) {
        int64_t qoff = 0;
        for (ax = 0; ax < NAX; ax++) qoff += qi[ax] * st[ax];
        for (ax = 0; ax < NAX; ax++) pi[ax] = 0;
        for (p = 0; p < P; p++) {
            int64_t off = qoff;
            for (ax = 0; ax < NAX; ax++) off += pi[ax] * st[ax];
            dst[2 * (p + P * q)] = src[2 * off], dst[2 * (p + P * q) + 1] = src[2 * off + 1];
            for (ax = 0; ax < NAX && ++pi[ax] == pd[ax]; ax++) pi[ax] = 0;
        }
        for (ax = 0; ax < NAX && ++qi[ax] == kd[ax]; ax++) qi[ax] = 0;
    }
    mv_free(&x);
    return cfl_save_dims(a->pos[a->npos - 1], &o, od);
}

/* ---- filter: BART's median, geometric median and moving average along an axis ---- */

/* BART's comparator (num/filter.c): by magnitude, never "equal" (ties go
   as glibc's qsort leaves them with it, the same on bart's side) */
static int filter_cmp(const void *a, const void *b)
{
    const float *x = (const float *)a, *y = (const float *)b;
    return (hypotf(x[0], x[1]) - hypotf(y[0], y[1]) > 0.) ? 1 : -1;
}

/* BART's median_complex_float: the middle sample by magnitude, or the
   mean of the two middle ones ((a + b) / 2. in double, rounded) */
static void filter_median(float *w, int64_t n, float out[2])
{
    qsort(w, (size_t)n, 8, filter_cmp);
    if (n % 2) {
        out[0] = w[2 * ((n - 1) / 2)], out[1] = w[2 * ((n - 1) / 2) + 1];
    } else {
        const float *a = w + 2 * ((n - 1) / 2), *b = a + 2;
        out[0] = (float)((double)(a[0] + b[0]) / 2.), out[1] = (float)((double)(a[1] + b[1]) / 2.);
    }
}

/* BART's weiszfeld: 10 steps of Weiszfeld's iteration from 0 in float,
   stopping (where it stands) at a sample it reaches exactly; d: n floats
   of room for the distances */
static void filter_geomedian(const float *w, int64_t n, float *d, float out[2])
{
    float x[2] = {0.f, 0.f};
    int it;
    int64_t i;
    for (it = 0; it < 10; it++) {
        float sum = 0, nx[2] = {0.f, 0.f};
        for (i = 0; i < n; i++) {
            d[i] = sqrtf(powf(x[0] - w[2 * i], 2.f) + powf(x[1] - w[2 * i + 1], 2.f));
            if (d[i] == 0.f) {
                out[0] = x[0], out[1] = x[1];
                return;
            }
            sum = (float)((double)sum + 1. / (double)d[i]);
        }
        for (i = 0; i < n; i++) nx[0] += w[2 * i] / d[i], nx[1] += w[2 * i + 1] / d[i];
        x[0] = nx[0] / sum, x[1] = nx[1] / sum;
    }
    out[0] = x[0], out[1] = x[1];
}

/* filter -m DIM | -a DIM -l LEN [-G] IN OUT (bart filter): along DIM, each
   window of LEN samples (n - LEN + 1 of them) to its median by magnitude
   (-G: geometric median, Weiszfeld) or its mean (-a: the window summed in
   order in float, times the float of 1 / LEN, as md_zavg) */
static int cmd_filter(const args *a)
{
    mv_vol x, o;
    int64_t xd[NAX], od[NAX], st[NAX], dim = -1, len = -1, m = -1, av = -1, n, q, k, c[NAX];
    const float *src;
    float *dst, *w;
    int rc, ax, geo = opt_flag(a, "-G");
    if ((rc = opt_int(a, "-m", 0, NAX - 1, "-m: an axis 0 .. 15", &m)) || (rc = opt_int(a, "-a", 0, NAX - 1, "-a: an axis 0 .. 15", &av)) ||
        (rc = opt_int(a, "-l", 1, MVT_BIG, "-l: a length >= 1", &len)))
        return rc;
    if (!opt_str(a, "-m")) m = -1;
    if (!opt_str(a, "-a")) av = -1;
    if ((m >= 0) == (av >= 0)) return usage_error(a, "one of -m DIM (median) and -a DIM (moving average)", NULL);
    if (!opt_str(a, "-l")) return usage_error(a, "-l LEN: the filter's length", NULL);
    dim = m >= 0 ? m : av;
    if ((rc = cfl_load_mapped(a->pos[0], &x, xd))) return rc;
    if (len > xd[dim]) { /* bart asserts */
        mv_free(&x);
        return usage_error(a, "-l: longer than the axis", opt_str(a, "-l"));
    }
    for (ax = 0, k = 1; ax < NAX; ax++) od[ax] = xd[ax], st[ax] = k, k *= xd[ax], c[ax] = 0;
    od[dim] = xd[dim] - len + 1;
    if ((rc = alloc16(&o, od, a->pos[1]))) {
        mv_free(&x);
        return rc;
    }
    w = (float *)malloc((size_t)len * 12); /* the window, then the geometric median's distances */
    if (!w) {
        mv_free(&x), mv_free(&o);
        return fail_at(MV_ERR_OUT_OF_MEMORY, a->pos[1]);
    }
    src = (const float *)x.data, dst = (float *)o.data, n = count16(od);
    for (q = 0; q < n; q++) {
        int64_t off = 0;
        for (ax = 0; ax < NAX; ax++) off += c[ax] * st[ax];
        if (av >= 0) { /* the sum in order from 0, then times (float)(1 / len) */
            float sr = 0.f, si = 0.f;
            const float f = (float)(1.0 / (double)len);
            for (k = 0; k < len; k++) sr += src[2 * (off + k * st[dim])], si += src[2 * (off + k * st[dim]) + 1];
            dst[2 * q] = sr * f, dst[2 * q + 1] = si * f;
        } else {
            for (k = 0; k < len; k++) w[2 * k] = src[2 * (off + k * st[dim])], w[2 * k + 1] = src[2 * (off + k * st[dim]) + 1];
            if (geo) filter_geomedian(w, len, w + 2 * len, dst + 2 * q);
            else filter_median(w, len, dst + 2 * q);
        }
        for (ax = 0; ax < NAX && ++c[ax] == od[ax]; ax++) c[ax] = 0;
    }
    free(w);
    mv_free(&x);
    return cfl_save_dims(a->pos[1], &o, od);
}

const command mvtool_array_commands[] = {
    {"zeros", "an array of zeros, N dims of sizes D1..DN (bart zeros)",
     "mvtool zeros N D1 .. DN OUT\n  bart zeros: a .cfl of N dims (BART's axes 0 .. N-1) filled with 0.\n", "", 2, -1,
     cmd_zeros},
    {"ones", "an array of ones (bart ones)", "mvtool ones N D1 .. DN OUT\n  bart ones: a .cfl filled with 1.\n", "", 2, -1,
     cmd_ones},
    {"vec", "a vector of numbers (bart vec)", "mvtool vec V1 .. VN OUT\n  bart vec: the numbers (2, 0.5i, 1+2i) along axis 0.\n",
     "", 2, -1, cmd_vec},
    {"index", "0 .. SIZE-1 along an axis (bart index)", "mvtool index DIM SIZE OUT\n", "", 3, 3, cmd_index},
    {"onehotenc", "class labels to one-hot vectors and back (bart onehotenc)",
     "mvtool onehotenc [-r] [-i DIM] IN OUT\n"
     "  bart onehotenc: each label (a real part, rounded) to a one-hot vector along the first axis of size 1\n"
     "  from DIM (0); -r: one-hot scores along DIM to the index of the largest real part (the first of\n"
     "  equal ones; a warning counts them).\n",
     "-r -i=", 2, 2, cmd_onehotenc},
    {"delta", "a Kronecker delta (bart delta)",
     "mvtool delta N FLAGS SIZE OUT\n  bart delta: N axes, those of FLAGS of SIZE, 1 where their indices agree.\n", "", 4,
     4, cmd_delta},
    {"upat", "a Cartesian undersampling pattern (bart upat)",
     "mvtool upat [-Y N] [-Z N] [-y U] [-z U] [-c C] OUT\n"
     "  bart upat: a (1, Y, Z) pattern (default 128 x 128, -y 1 -z 2): every U-th\n"
     "  line along each, and the centre |2y - Y| < 2C, |2z - Z| < 2C.\n",
     "-Y= -Z= -y= -z= -c=", 1, 1, cmd_upat},
    {"noise", "add BART's Gaussian noise (bart noise, its bytes)",
     "mvtool noise [-s SEED] [-n VAR] [-S SPIKE] [-r] IN OUT\n"
     "  bart noise: IN plus complex Gaussian noise of variance VAR (default 1;\n"
     "  -r: real, the imaginary part cleared), each sample only where a uniform\n"
     "  draw is at most SPIKE (default 1: all), from BART's generator (glibc's\n"
     "  rand_r, seed 123 unless -s): bart's bytes.\n",
     "-s= -n= -S= -r", 2, 2, cmd_noise},
    {"poisson", "a Poisson-disc undersampling mask (bart poisson, its mask)",
     "mvtool poisson [-Y N] [-Z N] [-y A] [-z A] [-C N] [-v] [-V V] [-e] [-D D]\n"
     "               [-R N] [-s SEED] [-T N] [-m] OUT\n"
     "  bart poisson: a (1, Y, Z) mask (default 128 x 128) of Poisson-disc points\n"
     "  at accelerations -y, -z, a centre of -C samples, variable density -v\n"
     "  (-V), within the inscribed circle with -e, -R N uniform random points\n"
     "  instead; BART's draws (seed 11235 unless -s): bart's mask. Prints its\n"
     "  \"points: ...\" line. -T N: N classes of one multi-class pattern along\n"
     "  axis 3 (frames; each as dense as one pattern, all together sqrt(N) times\n"
     "  denser). -m: the points' (0, ky, kz) (3, P) instead of a mask.\n",
     "-Y= -Z= -y= -z= -C= -v -V= -e -D= -T= -R= -s= -m", 1, 1, cmd_poisson},
    {"scale", "IN times a complex factor (bart scale)",
     "mvtool scale FACTOR IN OUT\n"
     "  bart scale: each sample times FACTOR (2, -0.5, 1.5i, 1+2i), bart's bytes.\n",
     "", 3, 3, cmd_scale},
    {"saxpy", "SCALE * IN1 + IN2 (bart saxpy)",
     "mvtool saxpy SCALE IN1 IN2 OUT\n  bart saxpy: SCALE * IN1 + IN2 (the same sizes), bart's bytes.\n", "", 4, 4,
     cmd_saxpy},
    {"conj", "complex conjugate (bart conj)", "mvtool conj IN OUT\n", "", 2, 2, cmd_conj},
    {"creal", "real part (bart creal)", "mvtool creal IN OUT\n  the real part, imaginary 0.\n", "", 2, 2, cmd_creal},
    {"cabs", "absolute value (bart cabs)", "mvtool cabs IN OUT\n  |IN| (hypotf), imaginary 0.\n", "", 2, 2, cmd_cabs},
    {"carg", "phase angle (bart carg)", "mvtool carg IN OUT\n  atan2(im, re), imaginary 0.\n", "", 2, 2, cmd_carg},
    {"invert", "1 / IN, 0 where IN is 0 (bart invert)", "mvtool invert IN OUT\n  bart invert's bytes.\n", "", 2, 2,
     cmd_invert},
    {"cpyphs", "the phase of IN, IN / |IN| (bart cpyphs)", "mvtool cpyphs IN OUT\n  IN / |IN|, 1 where IN is 0.\n", "", 2,
     2, cmd_cpyphs},
    {"zexp", "complex exponential (bart zexp)", "mvtool zexp [-i] IN OUT\n  exp(IN), or exp(i IN) with -i.\n", "-i", 2, 2,
     cmd_zexp},
    {"spow", "IN to a complex power (bart spow)", "mvtool spow EXPONENT IN OUT\n  cpow(IN, EXPONENT), bart's bytes.\n", "",
     3, 3, cmd_spow},
    {"fmac", "multiply and accumulate, summing axes (bart fmac)",
     "mvtool fmac [-A] [-C] [-s BITMASK] IN1 [IN2] OUT\n"
     "  bart fmac: IN1 * IN2 (IN2 conjugated with -C; all ones when not given),\n"
     "  each axis 1 in one file or the same in both, summed over the axes of\n"
     "  -s (BART's squash) into OUT, or added to OUT's samples with -A (OUT\n"
     "  must then hold the result's sizes). Without -s bart's bytes; sums\n"
     "  within float rounding of bart's.\n",
     "-A -C -s=", 2, 3, cmd_fmac},
    {"avg", "average over axes (bart avg)",
     "mvtool avg [-w] BITMASK IN OUT\n"
     "  bart avg: the mean over the axes of BITMASK (kept as axes of 1); -w the\n"
     "  weighted mean, the sum over the count of nonzero samples (0 where none).\n",
     "-w", 3, 3, cmd_avg},
    {"var", "variance over axes (bart var)",
     "mvtool var BITMASK IN OUT\n  bart var: the variance over the axes of BITMASK (n - 1 in the denominator).\n", "",
     3, 3, cmd_var},
    {"std", "standard deviation over axes (bart std)",
     "mvtool std BITMASK IN OUT\n  bart std: the square root of var's.\n", "", 3, 3, cmd_std},
    {"mip", "maximum (or minimum) intensity projection (bart mip)",
     "mvtool mip [-m] [-a] BITMASK IN OUT\n"
     "  bart mip: the largest real part (|IN| with -a) over the axes of BITMASK,\n"
     "  from 0 as bart's (it clears its output first); -m the smallest.\n",
     "-m -a", 3, 3, cmd_mip},
    {"normalize", "divide by the norm along axes (bart normalize)",
     "mvtool normalize [-b] FLAGS IN OUT\n"
     "  bart normalize: each group along the axes of FLAGS over its l2 norm (-b:\n"
     "  l1), 0 where the norm is 0.\n",
     "-b", 3, 3, cmd_normalize},
    {"pattern", "the sampling pattern of k-space (bart pattern)",
     "mvtool pattern [-s BITMASK] KSPACE OUT\n"
     "  bart pattern: 1 where the root sum of squares over the axes of BITMASK\n"
     "  (default 8: the coils) is nonzero, else 0.\n",
     "-s=", 2, 2, cmd_pattern},
    {"nrmse", "normalised RMS error against a reference (bart nrmse)",
     "mvtool nrmse [-t EPS] [-s] REFERENCE INPUT\n"
     "  bart nrmse: prints ||INPUT - REFERENCE|| / ||REFERENCE|| (\"%f\"); exit 1\n"
     "  when it exceeds EPS. -s: REFERENCE scaled first by the least squares\n"
     "  factor, printed first as bart prints it.\n",
     "-t= -s", 2, 2, cmd_nrmse},
    {"measure", "image quality against a reference: MSE, PSNR, SSIM, ... (bart measure)",
     "mvtool measure [--mse | --mse-mag | --ssim | --psnr] REFERENCE INPUT [OUT]\n"
     "  bart measure: mv_measure's mse, mse mag, mean psnr, mean ssim, mad, mad mag, nmse, nmse mag\n"
     "  (\"rss\" over the coils of axis 3), averaged over axis 15, printed as bart's; OUT: one value per\n"
     "  measure along axis 0, a row per item of axis 15.\n",
     "--mse --mse-mag --ssim --psnr", 2, 3, cmd_measure},
    {"sdot", "dot product of two arrays (bart sdot)",
     "mvtool sdot IN1 IN2\n  bart sdot: prints sum(IN1 conj(IN2)) (\"%+e%+ei\").\n", "", 2, 2, cmd_sdot},
    {"estshift", "sub-pixel shift between two arrays (bart estshift)",
     "mvtool estshift FLAGS IN1 IN2\n  bart estshift: prints \"Shifts:\" and IN1's shift against IN2 along each\n"
     "  axis of FLAGS, from the phase slope of their cross spectrum.\n", "", 3, 3, cmd_estshift},
    {"window", "Hamming or Hann window along axes (bart window)",
     "mvtool window [-H] FLAGS IN OUT\n  bart window: IN times a Hamming window (-H: Hann) along each axis of FLAGS; bart's bytes.\n",
     "-H", 3, 3, cmd_window},
    {"conv", "cyclic convolution along axes (bart conv)",
     "mvtool conv BITMASK IN KERNEL OUT\n  bart conv: IN convolved cyclically with KERNEL (centred at (K - 1) / 2) along the axes\n"
     "  of BITMASK, by FFTs; along the other axes KERNEL is 1 or IN's size.\n", "", 4, 4, cmd_conv},
    {"whiten", "noise pre-whitening of multi-channel k-space (bart whiten)",
     "mvtool whiten [-o OPTMAT] [-c COVAR] [-n] IN NDATA OUT [OPTMAT_OUT [COVAR_OUT]]\n"
     "  bart whiten: IN's coils (axis 3) times L^-1, K = L L^H the noise covariance of NDATA; -n: divided by\n"
     "  the whitened noise's standard deviation; -o / -c: a given matrix / covariance (BART's layout).\n",
     "-o= -c= -n", 3, 5, cmd_whiten},
    {"rof", "total-variation denoising (bart rof)",
     "mvtool rof LAMBDA FLAGS IN OUT\n  bart rof: argmin 1/2 ||x - IN||^2 + LAMBDA TV(x), isotropic TV along the axes of\n"
     "  FLAGS (at most three longer than 1), by bart rof's ADMM (rho 0.1, 50 iterations).\n", "", 4, 4, cmd_rof},
    {"tgv", "total generalized variation denoising (bart tgv)",
     "mvtool tgv LAMBDA FLAGS IN OUT\n  bart tgv: argmin 1/2 ||x - IN||^2 + LAMBDA (sum_c |D_c x + z_c| + sum_i ||D_j z_i + D_i z_j||_j)\n"
     "  along the axes of FLAGS (at most three longer than 1), by bart tgv's ADMM (rho 0.1, 100\n"
     "  iterations); OUT: IN's sizes, axis 15 the image and the fields z_c, one per flagged axis.\n",
     "", 4, 4, cmd_tgv},
    {"ictv", "infimal-convolution TV denoising (bart ictv)",
     "mvtool ictv [-i ITER] [-u RHO] LAMBDA FLAGS1 FLAGS2 IN OUT\n"
     "  bart ictv: argmin 1/2 ||x - IN||^2 + LAMBDA (TV_1(x + w) + TV_2(w)), isotropic TVs along FLAGS1\n"
     "  and FLAGS2 (at most three axes longer than 1 in all), by bart ictv's ADMM (-u rho 0.5, -i 50\n"
     "  iterations); OUT: IN's sizes, axis 15 the image x and w.\n",
     "-i= -u=", 5, 5, cmd_ictv},
    {"fovshift", "shift the field of view of k-space (bart fovshift)",
     "mvtool fovshift [-t TRAJ] [-s X:Y:Z] IN OUT\n  bart fovshift: IN times the phase of a shift by X:Y:Z fields of view,\n"
     "  Cartesian along axes 0..2, or at TRAJ's points; bart's bytes.\n", "-t= -s=", 2, 2, cmd_fovshift},
    {"show", "print an array's samples or sizes (bart show)",
     "mvtool show [-m] [-d DIM] [-s SEP] [-f FORMAT] IN\n"
     "  bart show: the samples, a line per run along the first axis longer than\n"
     "  1, SEP (a tab) between them, each as FORMAT (%+.6e%+.6ei; bart's four\n"
     "  forms: f or e, \"i\" after or a comma between); -m the type and the 16\n"
     "  sizes; -d DIM the size of one axis.\n",
     "-m -d= -s= -f=", 1, 1, cmd_show},
    {"resize", "truncate or zero-pad axes (bart resize)",
     "mvtool resize [-c] DIM1 SIZE1 .. DIMN SIZEN IN OUT\n"
     "  bart resize: each DIM to SIZE, truncated or padded with zeros at the\n"
     "  end, or (-c) about the centre (the FFT's: n/2 stays at n/2).\n",
     "-c", 4, -1, cmd_resize},
    {"crop", "the central part along one axis (bart crop)",
     "mvtool crop DIM SIZE IN OUT\n  bart crop: resize -c along DIM.\n", "", 4, 4, cmd_crop},
    {"extract", "a block [START, END) along axes (bart extract)",
     "mvtool extract DIM1 START1 END1 .. DIMN STARTN ENDN IN OUT\n", "", 5, -1, cmd_extract},
    {"slice", "one position along axes (bart slice)",
     "mvtool slice DIM1 POS1 .. DIMN POSN IN OUT\n  bart slice: the axes of DIM kept with size 1.\n", "", 4, -1,
     cmd_slice},
    {"copy", "copy, or into an existing array at a position (bart copy)",
     "mvtool copy [DIM1 POS1 .. DIMN POSN] IN OUT\n"
     "  bart copy: IN to OUT; with positions into OUT, which must exist, at POS\n"
     "  along each DIM.\n",
     "", 2, -1, cmd_copy},
    {"join", "concatenate along an axis (bart join)",
     "mvtool join [-a] DIM IN1 .. INN OUT\n"
     "  bart join: along DIM (the other axes equal); -a: appended to OUT when it\n"
     "  exists (bart 0.8 leaves OUT's old bytes where they lie, a join only\n"
     "  along OUT's outermost axis; mvtool joins along any DIM).\n",
     "-a", 3, -1, cmd_join},
    {"circshift", "circular shift along an axis (bart circshift)",
     "mvtool circshift DIM SHIFT IN OUT\n  OUT[(i + SHIFT) mod n] = IN[i] along DIM (numpy.roll).\n", "", 4, 4,
     cmd_circshift},
    {"transpose", "swap two axes (bart transpose)", "mvtool transpose DIM1 DIM2 IN OUT\n", "", 4, 4, cmd_transpose},
    {"reshape", "new sizes for some axes (bart reshape)",
     "mvtool reshape FLAGS D1 .. DN IN OUT\n"
     "  bart reshape: the axes of FLAGS take the sizes D1 .. DN (one per bit,\n"
     "  the same product), their samples' order kept.\n",
     "", 3, -1, cmd_reshape},
    {"repmat", "repeat along an axis (bart repmat)",
     "mvtool repmat DIM REPS IN OUT\n  bart repmat: IN (size 1 along DIM) repeated REPS times.\n", "", 4, 4,
     cmd_repmat},
    {"squeeze", "drop the axes of size 1 (bart squeeze)", "mvtool squeeze IN OUT\n", "", 2, 2, cmd_squeeze},
    {"flatten", "the samples as one axis (bart flatten)", "mvtool flatten IN OUT\n", "", 2, 2, cmd_flatten},
    {"multicfl", "combine arrays into BART's multi-cfl file, or split one (bart multicfl)",
     "mvtool multicfl IN1 .. INN MULTI | mvtool multicfl -s MULTI OUT1 .. OUTN\n"
     "  bart multicfl: the arrays' samples one after another in MULTI.cfl, the header's Dimensions\n"
     "  their total (a plain reader sees one long array), SizesDimensions and MultiDimensions\n"
     "  each array's sizes; -s the reverse (as many outputs as the file holds arrays).\n",
     "-s", 2, -1, cmd_multicfl},
    {"filter", "median or moving average along an axis (bart filter)",
     "mvtool filter (-m DIM | -a DIM) -l LEN [-G] IN OUT\n"
     "  bart filter: each window of LEN samples along DIM (n - LEN + 1 of them) to its median by\n"
     "  magnitude (-m; -G the geometric median, 10 Weiszfeld steps) or its mean (-a), as bart's.\n",
     "-m= -a= -l= -G", 2, 2, cmd_filter},
    {"casorati", "Casorati matrix of blocks along axes (bart casorati)",
     "mvtool casorati DIM1 KERN1 [... DIMN KERNN] IN OUT\n"
     "  bart casorati: OUT (positions, block samples): each position of a block of KERN samples\n"
     "  along each DIM (whole axes elsewhere) as a row, the block's samples as its columns,\n"
     "  first axis fastest in both.\n",
     "", 4, -1, cmd_casorati},
    {"bitmask", "axes to a bitmask and back (bart bitmask)",
     "mvtool bitmask D1 .. DN | -b BITMASK\n  bart bitmask: prints the bitmask of the axes, or (-b) the axes of one.\n",
     "-b", 0, -1, cmd_bitmask},
};
const int mvtool_array_ncommands = (int)(sizeof(mvtool_array_commands) / sizeof(mvtool_array_commands[0]));
