/* mvtool recon family: BART-compatible parallel-imaging commands on .cfl
   files (ecalib, pics -l2) and the GRAPPA command BART lacks.

     mvtool ecalib [-m 1|2] [-r CAL] [-k KERNEL] [-t THR] [-c CROP] [-S] [-P] [-I] [-1] [--iter N] KSPACE MAPS [EIG]
     mvtool ecaltwo [-c CROP] [-m MAPS] [-S] X Y Z COV MAPS [EIG]
     mvtool walsh [-r CAL] [-b BLOCK] KSPACE COV
     mvtool calmat [-k KERNEL] [-r CAL] [-C] KSPACE OUT
     mvtool svd [-e] IN U S VH
     mvtool pics -l2|-l1|-R ... [-r LAMBDA] [-i ITER] [-S] [-w SCALE] [-t TRAJ] [-e] [--chunk N] KSPACE MAPS OUT
     mvtool nlinv [-i ITER] [-m MAPS] [-U] [-c] [-N] [-S] [-p PATTERN] [-t TRAJ] KSPACE OUT [SENS]
     mvtool cc [-p N] [-M] [-r S] [-A] [-S|-G] KSPACE OUT
     mvtool ccapply [-p N] [-u] [-t] [-S|-G] KSPACE MATRIX OUT
     mvtool homodyne [-r ALPHA] [-I] [-C] [-P PHASE] [-n] DIM FRACTION IN OUT
     mvtool grappa KSPACE OUT [--acs N] [--kernel 5x4] [--accel R] [--lambda L] [--gfactor G]

   BART's flags and argument order; files are BART .cfl/.hdr pairs (NAME,
   NAME.cfl or NAME.hdr), read with BART's axes beyond medvol's 7 folded
   into dims[6] and written with BART's 16 sizes (cfl_load_folded,
   cfl_save_dims in mvtool.c). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* pics's output header, BART's: the k-space's 16 sizes kd with the
   image's x, y, z, one coil, and several maps in BART's maps axis (where
   the k-space has 1); with a basis (-B; NULL or its (T, K) view) one TE
   and its K coefficients in BART's COEFF axis 6 */
static void pics_out_dims(const int64_t kd[16], const mv_vol *maps, const mv_vol *basis, int64_t od[16])
{
    int ax;
    for (ax = 0; ax < 16; ax++) od[ax] = kd[ax];
    for (ax = 0; ax < 3; ax++) od[ax] = maps->dim[ax];
    od[3] = 1;
    if (maps->ndim > 4 && maps->dim[4] > 1) od[4] = maps->dim[4];
    if (basis) od[5] = 1, od[6] = basis->dim[1];
}

/* pics -B BASIS: BART's temporal basis, (1, 1, 1, 1, 1, T, K), for
   k-space frames in BART's TE axis 5 alone; *bv gets the file, *bt the (T,
   K) view the library takes (opts.basis). 0 or the exit status (bv empty
   then). */
static int pics_basis(const args *a, const int64_t kd[16], mv_vol *bv, mv_vol *bt)
{
    const char *bp = opt_str(a, "-B");
    char msg[200];
    int64_t bd[16];
    int ax, rc;
    mv_vol_init(bv);
    if (opt_str(a, "--chunk"))
        return usage_error(a, "-B with --chunk is not implemented (the coefficients are solved at once)", bp);
    for (ax = 4; ax < 16; ax++)
        if (ax != 5 && kd[ax] != 1) {
            snprintf(msg, sizeof(msg), "-B: BART's axis %d of the k-space holds %lld samples (its frames must lie in "
                     "the TE axis 5 alone)", ax, (long long)kd[ax]);
            return usage_error(a, msg, a->pos[0]);
        }
    if ((rc = cfl_load_folded(bp, bv, bd))) return rc;
    for (ax = 0; ax < 16; ax++)
        if ((ax != 5 && ax != 6 && bd[ax] != 1) || (ax == 5 && bd[5] != kd[5])) {
            snprintf(msg, sizeof(msg), "-B: BART's axis %d holds %lld samples (the basis is (1, 1, 1, 1, 1, T, K) "
                     "with the k-space's %lld frames T)", ax, (long long)bd[ax], (long long)kd[5]);
            mv_free(bv);
            return usage_error(a, msg, bp);
        }
    *bt = *bv;
    bt->flags = 0; /* a view: bv owns the samples */
    bt->ndim = 2;
    for (ax = 0; ax < MV_MAX_DIMS; ax++) bt->dim[ax] = ax == 0 ? bd[5] : ax == 1 ? bd[6] : 1;
    return 0;
}

/* a whole number option in [lo, hi]; 0 if absent (def kept), -1 usage error */
static int opt_int(const args *a, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = opt_str(a, name);
    if (!s) return 0;
    if (parse_ints(s, out, 1, lo, hi) != 1) return -1;
    return 1;
}

static int opt_num(const args *a, const char *name, double *out)
{
    const char *s = opt_str(a, name);
    if (!s) return 0;
    if (parse_list(s, out, 1) != 1) return -1;
    return 1;
}

/* caldir CAL_SIZE KSPACE SENS (bart caldir): coil sensitivities by the
   direct method (mv_caldir), bart's two lines on stdout */
static int cmd_caldir(const args *a)
{
    mv_vol k, s;
    int64_t cal = 0, bd[16], reg[3];
    int rc;
    mv_status st;
    if (parse_ints(a->pos[0], &cal, 1, 1, 1 << 20) != 1) return usage_error(a, "CAL_SIZE: a whole number >= 1", a->pos[0]);
    if ((rc = cfl_load_folded(a->pos[1], &k, bd))) return rc;
    st = mv_caldir(&k, &s, cal, reg, NULL);
    mv_free(&k);
    if (st != MV_OK) return fail_at(st, a->pos[1]);
    printf("Calibration region %lldx%lldx%lld\n", (long long)reg[0], (long long)reg[1], (long long)reg[2]);
    printf("Done.\n");
    return cfl_save_dims(a->pos[2], &s, bd);
}

/* ESPIRiT's eigenvalue maps (f32 x, y, z, M; freed) as BART writes them:
   complex, (x, y, z, 1, M) (the maps in dims[4], after a coil axis of 1) */
static int save_eigenvalues(const char *path, mv_vol *eig)
{
    mv_vol c;
    const mv_status st = mv_convert(eig, &c, MV_DT_C64, NULL);
    mv_free(eig);
    if (st != MV_OK) return fail_at(st, path);
    if (c.ndim == 4) {
        c.dim[4] = c.dim[3];
        c.dim[3] = 1;
        c.spacing[4] = c.spacing[3];
        c.ndim = 5;
    }
    return cfl_save_dims(path, &c, NULL);
}

static int cc_calsize(const char *s, int64_t out[3]);

/* bart ecalib -a -d 2's table of the crops SURE tries */
static void sure_row(void *user, int round, int step, double crop, double risk)
{
    (void)user;
    if (round == 1 && step == 1)
        fprintf(stderr, "---------------------------------------------\n"
                        "| CTR1 | CTR2 |  Crop  |      Est. MSE      |\n"
                        "---------------------------------------------\n");
    if (step == 1) fprintf(stderr, "| %4d | %4d | %0.4f | %0.12e |\n", round, step, crop, risk);
    else fprintf(stderr, "|      | %4d | %0.4f | %0.12e |\n", step, crop, risk);
}

static int cmd_ecalib(const args *a)
{
    mv_vol k, maps, eig;
    mv_ecalib_opts o = MV_ZERO_INIT;
    int64_t v, kd[16];
    double d, crop_used = 0;
    int rc, i;
    if (opt_int(a, "-m", 1, 2, &v) < 0) return usage_error(a, "-m takes 1 or 2", opt_str(a, "-m"));
    o.maps = opt_str(a, "-m") ? (int)v : 2; /* BART ecalib's default: two maps (pics takes both) */
    if (opt_str(a, "-r")) {
        int64_t cs[3];
        if (cc_calsize(opt_str(a, "-r"), cs) < 0 || cs[0] > 4096 || cs[1] > 4096 || cs[2] > 4096)
            return usage_error(a, "-r takes a calibration size S or X:Y:Z", opt_str(a, "-r"));
        for (i = 0; i < 3; i++) o.calib[i] = (int)cs[i];
    }
    if (opt_str(a, "-k")) {
        int64_t ks[3];
        if (cc_calsize(opt_str(a, "-k"), ks) < 0 || ks[0] > 64 || ks[1] > 64 || ks[2] > 64)
            return usage_error(a, "-k takes a kernel size S or X:Y:Z (at most 64)", opt_str(a, "-k"));
        for (i = 0; i < 3; i++) o.kernel[i] = (int)ks[i];
    }
    o.softcrop = opt_flag(a, "-S");
    o.no_rotphase = opt_flag(a, "-P");
    o.intensity = opt_flag(a, "-I");
    o.weighting = opt_flag(a, "-W");
    o.auto_crop = opt_flag(a, "-a");
    if (opt_num(a, "-v", &d) < 0 || (opt_str(a, "-v") && !(d > 0 && d < 1e30)))
        return usage_error(a, "-v takes a noise variance > 0", opt_str(a, "-v"));
    if (opt_str(a, "-v")) o.variance = d;
    o.crop_used = &crop_used;
    if (opt_int(a, "-d", 0, 10, &v) < 0) return usage_error(a, "-d takes a debug level 0 .. 10", opt_str(a, "-d"));
    if (opt_str(a, "-d") && v >= 2) o.sure_step = sure_row;
    if (opt_num(a, "-t", &d) < 0 || (opt_str(a, "-t") && !(d > 0 && d < 1)))
        return usage_error(a, "-t takes a threshold in (0, 1)", opt_str(a, "-t"));
    if (opt_str(a, "-t")) o.threshold = d;
    if (opt_num(a, "-c", &d) < 0 || (opt_str(a, "-c") && !(d >= 0 && d <= 1)))
        return usage_error(a, "-c takes a crop value in [0, 1]", opt_str(a, "-c"));
    if (opt_str(a, "-c")) o.crop = d > 0 ? d : -1;
    if (opt_int(a, "--iter", 1, 10000, &v) < 0) return usage_error(a, "--iter takes 1 .. 10000", opt_str(a, "--iter"));
    if (opt_str(a, "--iter")) o.iterations = (int)v;
    if ((rc = cfl_load_folded(a->pos[0], &k, kd))) return rc;
    if (kd[4] > 1) { /* bart ecalib asserts it too ("MAPS dimension is not of size one") */
        mv_free(&k);
        return usage_error(a, "BART's maps axis (4) must be 1 in the k-space", a->pos[0]);
    }
    if (!opt_str(a, "-m") && (k.ndim <= 3 || k.dim[3] == 1)) o.maps = 1; /* one coil: one map (BART asserts) */
    if (opt_flag(a, "-1")) { /* the first part only: the Gram matrices on BART's 2k grid, for ecaltwo */
        mv_vol c;
        mv_status st = mv_ecalib_cov(&k, &c, &o);
        mv_free(&k);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
        return cfl_save_dims(a->pos[1], &c, NULL);
    }
    mv_vol_init(&maps);
    mv_vol_init(&eig);
    {
        double t0 = now_ms();
        mv_status st = mv_ecalib(&k, &maps, a->npos > 2 ? &eig : NULL, &o);
        if (opt_flag(a, "--time")) fprintf(stderr, "ecalib: %.1f ms\n", now_ms() - t0);
        mv_free(&k);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
        if (o.auto_crop) {
            if (o.sure_step) fprintf(stderr, "---------------------------------------------\n");
            fprintf(stderr, "ecalib: SURE crop %.4f\n", crop_used);
        }
    }
    if ((rc = cfl_save_dims(a->pos[1], &maps, NULL))) {
        mv_free(&eig);
        return rc;
    }
    return a->npos > 2 ? save_eigenvalues(a->pos[2], &eig) : 0;
}

/* ---- pics --chunk: items streamed from KSPACE.cfl to OUT.cfl ---- */

/* the file side of mv_recon_io: item i of the k-space file at i * kbytes,
   of the output at i * xbytes; with -S the image is multiplied by the data
   scale (the library divided the data by it) before it is written */
typedef struct pics_stream {
    FILE *in, *out;
    const char *in_name, *out_name;
    size_t kbytes, xbytes;
    double mul;       /* the image is multiplied by it (-S: the data scale); 1: none */
    float *scaled;    /* xbytes of room for the scaled image */
    float *mag;       /* scale pre-pass: |A^H y| of every item, or NULL */
    const mv_cgsense_plan *plan;
} pics_stream;

static mv_status ps_read(void *user, int64_t item, void *buf, size_t bytes)
{
    pics_stream *p = (pics_stream *)user;
    if (fseeko(p->in, (off_t)item * (off_t)p->kbytes, SEEK_SET) != 0 || fread(buf, 1, bytes, p->in) != bytes)
        return mv_set_error(MV_ERR_IO, "'%s': reading item %lld", p->in_name, (long long)item);
    return MV_OK;
}

static mv_status ps_write(void *user, int64_t item, const void *buf, size_t bytes)
{
    pics_stream *p = (pics_stream *)user;
    const float *x = (const float *)buf;
    size_t i;
    if (p->mul != 1) {
        for (i = 0; i < bytes / 4; i++) p->scaled[i] = (float)(x[i] * p->mul);
        x = p->scaled;
    }
    if (fseeko(p->out, (off_t)item * (off_t)p->xbytes, SEEK_SET) != 0 || fwrite(x, 1, bytes, p->out) != bytes)
        return mv_set_error(MV_ERR_IO, "'%s': writing item %lld", p->out_name, (long long)item);
    return MV_OK;
}

/* BART's header: "# Dimensions" and 16 sizes */
static int write_cfl_header(const char *name, const int64_t *dims, int nd)
{
    char path[4200];
    FILE *f;
    int i;
    snprintf(path, sizeof(path), "%s.hdr", name);
    f = fopen(path, "w");
    if (!f) return fail_at(mv_set_error(MV_ERR_IO, "cannot create '%s'", path), path);
    fprintf(f, "# Dimensions\n");
    for (i = 0; i < 16; i++) fprintf(f, "%lld ", (long long)(i < nd ? dims[i] : 1)); /* as BART and mv_cfl_save */
    fprintf(f, "\n");
    return fclose(f) == 0 ? 0 : fail_at(mv_set_error(MV_ERR_IO, "writing '%s'", path), path);
}

/* NAME from NAME, NAME.cfl or NAME.hdr */
static void cfl_base(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path);
    if (n >= 4 && (!strcmp(path + n - 4, ".cfl") || !strcmp(path + n - 4, ".hdr"))) n -= 4;
    if (n >= cap) n = cap - 1;
    memcpy(out, path, n);
    out[n] = 0;
}

/* pics -p PATTERN: BART's pattern or weights P against the k-space's 16
   sizes kd (each of P's axes 1 or the k-space's, as BART 0.9 on; the
   coils' 1: weights shared by the coils). P expanded to the k-space's
   samples without coils, its frames (BART's axes 4..15) all 1 when P
   has none, else the k-space's: *pv (c64, folded as the k-space: what the
   data is multiplied by for BART's Cartesian scale) and *wv = |P|^2 (the
   library's weights). 0 or the exit status (both empty then). */
static int pics_pattern(const args *a, const int64_t kd[16], mv_vol *pv, mv_vol *wv)
{
    const char *pp = opt_str(a, "-p");
    int64_t pd[16], td[16], fd[MV_MAX_DIMS], sstr[16], c[16], n, i, at = 0, stride = 1;
    int ax, rc, frames = 0;
    mv_vol p;
    mv_status st;
    mv_vol_init(pv);
    mv_vol_init(wv);
    if ((rc = cfl_load_folded(pp, &p, pd))) return rc;
    if (pd[3] != 1) {
        mv_free(&p);
        return usage_error(a, "-p: a pattern per coil is not implemented (BART's coils axis 3 must be 1: the weights "
                              "are shared by the coils)", pp);
    }
    for (ax = 0; ax < 16; ax++) {
        char msg[160];
        if (pd[ax] == kd[ax] || pd[ax] == 1) continue;
        snprintf(msg, sizeof(msg), "-p: BART's axis %d holds %lld samples in the pattern and %lld in the k-space (1 or "
                 "as many, as bart pics)", ax, (long long)pd[ax], (long long)kd[ax]);
        mv_free(&p);
        return usage_error(a, msg, pp);
    }
    for (ax = 4; ax < 16; ax++) frames |= pd[ax] > 1;
    for (ax = 0; ax < 16; ax++) {
        td[ax] = ax == 3 || (ax > 3 && !frames) ? 1 : kd[ax];
        sstr[ax] = pd[ax] > 1 ? stride : 0; /* P's stride along the target's axis (0: broadcast) */
        stride *= pd[ax];
        c[ax] = 0;
    }
    ax = cfl_fold_dims(td, fd);
    st = mv_vol_alloc(pv, MV_DT_C64, ax, fd, NULL);
    if (st == MV_OK) st = mv_vol_alloc(wv, MV_DT_F32, ax, fd, NULL);
    if (st != MV_OK) {
        mv_free(&p);
        mv_free(pv);
        return fail_at(st, pp);
    }
    n = mv_vol_count(wv);
    for (i = 0; i < n; i++) { /* the target's samples in file order, P's sample at `at` */
        const float *src = (const float *)p.data + 2 * at;
        float *d = (float *)pv->data + 2 * i;
        d[0] = src[0], d[1] = src[1];
        ((float *)wv->data)[i] = src[0] * src[0] + src[1] * src[1];
        for (ax = 0; ax < 16; ax++) {
            at += sstr[ax];
            if (++c[ax] < td[ax]) break;
            at -= sstr[ax] * td[ax];
            c[ax] = 0;
        }
    }
    mv_free(&p);
    return 0;
}

/* k x P (BART 0.9 on multiplies its data by the pattern before its scale
   estimate): every coil of each volume by P's block of that volume (P
   shared, or one block per volume), in place */
static void pics_apply_pattern(mv_vol *k, const mv_vol *pv)
{
    int64_t nvox = k->dim[0] * k->dim[1] * k->dim[2], nc = k->dim[3], nb = mv_vol_count(k) / (nvox * nc);
    int64_t pb = mv_vol_count(pv) / nvox, b, c, v;
    float *x = (float *)k->data;
    for (b = 0; b < nb; b++)
        for (c = 0; c < nc; c++)
            for (v = 0; v < nvox; v++) {
                const float *w = (const float *)pv->data + 2 * ((pb > 1 ? b : 0) * nvox + v);
                float *s = x + 2 * ((b * nc + c) * nvox + v), re = s[0], im = s[1];
                s[0] = re * w[0] - im * w[1];
                s[1] = re * w[1] + im * w[0];
            }
}

static int pics_tv_frames(const args *a, mv_cg_opts *o, const int64_t kd[16]);

/* pics with --chunk: the k-space is never loaded whole; rounds of CHUNK
   items go through memory (mv_cgsense_run) and the output is written item
   by item into a temporary renamed into place at the end */
static int pics_chunked(const args *a, mv_vol *traj, mv_vol *maps, const int64_t kd[16], mv_cg_opts *o, double scale,
                        int want_scale, int rescale, const mv_vol *pat)
{
    mv_load_opts ho = MV_ZERO_INIT;
    mv_vol kh;
    mv_cgsense_plan *pl = NULL;
    pics_stream ps;
    mv_recon_io io;
    char kin[4200], base[4096], tmp[4200], fin[4200];
    int64_t nk, nvox, nitems, od[16], i;
    int rc = 1, ax;
    mv_status st;
    memset(&ps, 0, sizeof(ps));
    ho.header_only = 1;
    ho.cfl_fold = 1;
    mv_vol_init(&kh);
    st = mv_cfl_load(a->pos[0], &kh, &ho);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    pics_out_dims(kd, maps, NULL, od);
    if ((rc = pics_tv_frames(a, o, od))) return rc;
    if (traj && o->weights && mv_vol_count(o->weights) != kh.dim[1] * kh.dim[2])
        return usage_error(a, "-p with -t and --chunk: a pattern per frame is not implemented (one shared by the frames)",
                           opt_str(a, "-p"));
    st = mv_cgsense_plan_make(&pl, maps, traj, o);
    if (st != MV_OK) return fail_at(st, a->pos[1]);
    mv_cgsense_plan_info(pl, &nk, &nvox, NULL);
    nitems = mv_vol_count(&kh) / nk;
    if (nitems * nk != mv_vol_count(&kh) || (traj && (kh.dim[1] != traj->dim[1] || kh.dim[2] != traj->dim[2])) ||
        (!traj && (kh.dim[0] != maps->dim[0] || kh.dim[1] != maps->dim[1] || kh.dim[2] != maps->dim[2]))) {
        mv_cgsense_plan_free(pl);
        return usage_error(a, "k-space dims do not match the maps (and trajectory)", a->pos[0]);
    }
    if (maps->ndim > 4 && maps->dim[4] > 1 && kh.dim[4] > 1) {
        mv_cgsense_plan_free(pl);
        return usage_error(a, "with several maps the k-space's dims[4] (BART's maps axis) must be 1", a->pos[0]);
    }
    cfl_base(a->pos[0], base, sizeof(base));
    snprintf(kin, sizeof(kin), "%s.cfl", base);
    cfl_base(a->pos[2], base, sizeof(base));
    snprintf(tmp, sizeof(tmp), "%s.cfl.tmp", base);
    snprintf(fin, sizeof(fin), "%s.cfl", base);
    ps.in = fopen(kin, "rb");
    ps.out = fopen(tmp, "wb");
    ps.in_name = kin;
    ps.out_name = tmp;
    ps.kbytes = (size_t)nk * 8;
    ps.xbytes = (size_t)nvox * 8;
    ps.mul = 1;
    ps.plan = pl;
    ps.scaled = (float *)malloc(ps.xbytes);
    if (!ps.in || !ps.out || !ps.scaled) {
        st = mv_set_error(MV_ERR_IO, "cannot open '%s' or '%s'", kin, tmp);
        goto done;
    }
    if (want_scale) { /* BART's scale: the rule on |A^H y| of every item (non-Cartesian), first volume (Cartesian) */
        float *k = (float *)malloc(ps.kbytes), *img = (float *)malloc(ps.xbytes),
              *mag = (float *)malloc((size_t)(nitems * nvox) * sizeof(float));
        st = k && img && mag ? MV_OK : mv_set_error(MV_ERR_OUT_OF_MEMORY, "scale estimate: %lld magnitudes", (long long)(nitems * nvox));
        for (i = 0; i < (traj ? nitems : 1) && st == MV_OK; i++) {
            int64_t v;
            st = ps_read(&ps, i, k, ps.kbytes);
            if (st == MV_OK && traj) st = mv_cgsense_adjoint(pl, i, k, img);
            if (st == MV_OK && traj)
                for (v = 0; v < nvox; v++) mag[i * nvox + v] = sqrtf(img[2 * v] * img[2 * v] + img[2 * v + 1] * img[2 * v + 1]);
            if (st == MV_OK && !traj) {
                mv_vol kv;
                mv_vol_init(&kv);
                kv.data = k;
                kv.dtype = MV_DT_C64;
                kv.ndim = 4;
                for (ax = 0; ax < 4; ax++) kv.dim[ax] = kh.dim[ax];
                if (pat) pics_apply_pattern(&kv, pat); /* the first volume's block of P */
                st = mv_bart_scale_estimate(&kv, &scale, NULL);
            }
        }
        if (st == MV_OK && traj) st = mv_bart_scale_rule(mag, nitems * nvox, &scale);
        free(k);
        free(img);
        free(mag);
        if (st != MV_OK) goto done;
    }
    if (scale > 0) o->scale = scale;
    if (scale > 0 && rescale) ps.mul = scale;
    io.read = ps_read;
    io.write = ps_write;
    io.user = &ps;
    {
        double t0 = now_ms();
        st = mv_cgsense_run(pl, nitems, &io, o);
        if (opt_flag(a, "--time"))
            fprintf(stderr, "pics: %.1f ms, %d iterations, %lld items in rounds of %lld\n", now_ms() - t0,
                    o->iterations_done, (long long)nitems, (long long)o->chunk);
    }
done:
    if (ps.in) fclose(ps.in);
    if (ps.out && fclose(ps.out) != 0 && st == MV_OK) st = mv_set_error(MV_ERR_IO, "writing '%s'", tmp);
    free(ps.scaled);
    mv_cgsense_plan_free(pl);
    if (st != MV_OK) {
        remove(tmp);
        return fail_at(st, a->pos[0]);
    }
    if (rename(tmp, fin) != 0) return fail_at(mv_set_error(MV_ERR_IO, "renaming '%s'", tmp), fin);
    rc = write_cfl_header(base, od, 16);
    return rc;
}

/* ADMM's -u RHO and -C ITER */
static int pics_admm_opts(const args *a, mv_cg_opts *o)
{
    double d;
    int64_t v;
    if (opt_num(a, "-u", &d) < 0 || (opt_str(a, "-u") && !(d > 0))) return usage_error(a, "-u takes rho > 0", opt_str(a, "-u"));
    if (opt_str(a, "-u")) o->admm_rho = (float)d;
    if (opt_int(a, "-C", 1, 100000, &v) < 0) return usage_error(a, "-C takes a CG step count", opt_str(a, "-C"));
    if (opt_str(a, "-C")) o->admm_cg_iterations = (int)v;
    return 0;
}

/* One of pics's terms: -l1 / -R W:FLAGS:0:L (l1-wavelet), -R T:FLAGS:0:L
   (TV), -l2 / -R Q:L (l2), -R I:0:L (l1 of the image), -R S (non-negative),
   -R L:XFLAGS:JFLAGS:L (locally low rank), -R G:FLAGS:0:L (TGV), -R
   C:FLAGS:0:L (ICTV) into o; lambda: -r's, for -l1 and -l2; *kinds: bit 0
   l2, 1 l1-wavelet, 2 TV, 3 l1, 4 non-negative, 5 low rank, 6 TGV, 7
   ICTV, each at most once (TGV and ICTV not both). 0 or the usage error's
   status. */
static int pics_term(const args *a, const char *name, const char *R, double lambda, mv_cg_opts *o, unsigned *kinds)
{
    unsigned flags, jflags, kind;
    float lam;
    char tail;
    if (!strcmp(name, "-l1")) {
        kind = 2u;
        o->l1_wavelet = (float)lambda; /* BART keeps lambda as a float */
        o->wavelet_axes = 7u;
    } else if (!strcmp(name, "-l2")) {
        kind = 1u;
        o->lambda = lambda;
    } else if (sscanf(R, "W:%u:%u:%f%c", &flags, &jflags, &lam, &tail) == 3) {
        if (flags == 0 || flags > 7 || (flags & jflags) || !(lam >= 0))
            return usage_error(a, "-R W: transform flags within x, y, z (1..7), joint flags apart, lambda >= 0", R);
        if (jflags) return usage_error(a, "-R W: joint thresholding (JFLAGS) is not implemented", R);
        kind = 2u;
        o->wavelet_axes = flags;
        o->l1_wavelet = lam;
    } else if (sscanf(R, "T:%u:%u:%f%c", &flags, &jflags, &lam, &tail) == 3) {
        /* the frame axes' bits (5..15) stay as BART's until pics_tv_frames
           knows the k-space's axes */
        if (flags == 0 || flags >= 65536u || (flags & 24u) || !(lam > 0))
            return usage_error(a, "-R T: difference flags of x, y, z (1, 2, 4) and frame axes (32 .. 32768), lambda > 0", R);
        if (jflags) return usage_error(a, "-R T: joint flags beyond the gradient's are not implemented", R);
        kind = 4u;
        o->tv = lam; /* a float, as BART keeps it */
        o->tv_axes = flags;
    } else if (sscanf(R, "G:%u:%u:%f%c", &flags, &jflags, &lam, &tail) == 3 ||
               sscanf(R, "C:%u:%u:%f%c", &flags, &jflags, &lam, &tail) == 3) {
        /* TGV (G) and ICTV (C, BART's split: TV_1 over x, y, z, TV_2 over
           the frame axes); frame bits as -R T's */
        const int ictv = R[0] == 'C';
        if (flags == 0 || flags >= 65536u || (flags & 24u) || !(lam > 0) || (ictv && (!(flags & 7u) || flags < 32u)))
            return usage_error(a, ictv ? "-R C: flags of x, y, z (1, 2, 4) and of frame axes (32 .. 32768), both, lambda > 0"
                                       : "-R G: difference flags of x, y, z (1, 2, 4) and frame axes (32 .. 32768), lambda > 0",
                               R);
        if (jflags) return usage_error(a, "-R G / -R C: joint flags are not implemented", R);
        kind = ictv ? 128u : 64u;
        if (ictv) o->ictv = lam, o->ictv_axes = flags;
        else o->tgv = lam, o->tgv_axes = flags;
        if (*kinds & (192u & ~kind))
            return usage_error(a, "-R G and -R C together are not implemented", R);
    } else if (sscanf(R, "Q:%f%c", &lam, &tail) == 1 && lam >= 0) {
        kind = 1u;
        o->lambda = lam;
    } else if (sscanf(R, "I:%u:%f%c", &jflags, &lam, &tail) == 2) {
        if (!(lam > 0)) return usage_error(a, "-R I: lambda > 0", R);
        if (jflags & ~16u)
            return usage_error(a, "-R I: joint thresholding (JFLAGS) beyond the maps axis (16) is not implemented", R);
        kind = 8u;
        o->l1_image = lam;
        o->l1_image_joint_maps = jflags != 0;
    } else if (!strcmp(R, "S")) {
        kind = 16u;
        o->nonneg = 1;
    } else if (sscanf(R, "L:%u:%u:%f%c", &flags, &jflags, &lam, &tail) == 3) {
        if (flags == 0 || flags > 7 || jflags == 0 || jflags > 7 || !(lam > 0))
            return usage_error(a, "-R L: row and block flags within x, y, z (1..7; flags over the frames are not "
                                  "implemented), lambda > 0", R);
        kind = 32u;
        o->llr = lam; /* a float, as BART keeps it */
        o->llr_axes = flags;
        o->llr_block_axes = jflags;
    } else {
        return usage_error(a, "-R: W:FLAGS:0:LAMBDA (l1-wavelet), T:FLAGS:0:LAMBDA (TV), Q:LAMBDA (l2), I:0:LAMBDA (l1), "
                              "S (non-negative), L:FLAGS:FLAGS:LAMBDA (locally low rank), G:FLAGS:0:LAMBDA (TGV) and "
                              "C:FLAGS:0:LAMBDA (ICTV) are implemented (M, V, F, ... are not)", R);
    }
    if (*kinds & kind)
        return usage_error(a, "one term of each kind (l2: -l2 / -R Q, l1-wavelet: -l1 / -R W, TV: -R T, -R I, -R S, -R L, "
                              "-R G, -R C)", R ? R : name);
    *kinds |= kind;
    return 0;
}

/* -R T's, -R G's and -R C's flags on BART's frame axes (5..15: bits 32
   and up) as the library's frames bit (8), given the k-space's 16 sizes:
   flags on axes of one sample add nothing (as BART's gradient along them);
   a term along the frames needs them in one axis, the flagged one. ICTV's
   TV_2 keeps its bit on a single frame (BART's gradient of zero). */
static int pics_frame_bits(const args *a, unsigned *axes, const int64_t kd[16], const char *term, int keep)
{
    unsigned fl = *axes >> 5, live = 0;
    int ax;
    for (ax = 5; ax < 16; ax++)
        if (kd[ax] > 1) live |= 1u << (ax - 5);
    *axes &= 7u;
    if (!(fl & live)) {
        if (keep && fl) *axes |= 8u;
        return *axes || !fl ? 0 : usage_error(a, "every flagged axis has one sample", term);
    }
    if ((fl & live) != live)
        return usage_error(a, "a term along one of several frame axes is not implemented (the flags must cover "
                              "every frame axis, and only one may hold frames)", term);
    if (live & (live - 1)) return usage_error(a, "a term along several frame axes at once is not implemented", term);
    *axes |= 8u;
    return 0;
}

static int pics_tv_frames(const args *a, mv_cg_opts *o, const int64_t kd[16])
{
    int rc = pics_frame_bits(a, &o->tv_axes, kd, "-R T", 0);
    if (!rc && o->tgv > 0) rc = pics_frame_bits(a, &o->tgv_axes, kd, "-R G", 0);
    if (!rc && o->ictv > 0) rc = pics_frame_bits(a, &o->ictv_axes, kd, "-R C", 1);
    return rc;
}

/* pics's regularisation: -l2, -l1 and -R terms in any number (one of each
   kind): one l2 term by CG, one l1-wavelet, l1 or non-negativity term by
   FISTA, TV, several terms or -m by ADMM, as BART chooses; 0 or the usage
   error's status; *l1: nonzero when the image is not linear in the data
   (every term but l2) */
static int pics_reg(const args *a, mv_cg_opts *o, int *l1)
{
    const char *wt = opt_str(a, "--wavelet");
    unsigned kinds = 0;
    int i, rc, nt = 0;
    double cur = -1, lam[32];
    /* -l1 / -l2 take the -r given before them and use it up; those with
       none take the last -r (or 0), as BART's opt_reg */
    for (i = 0; i < a->nopt; i++) {
        lam[i] = -1;
        if (!strcmp(a->opt_name[i], "-r")) {
            if (parse_list(a->opt_val[i], &cur, 1) != 1 || !(cur >= 0)) return usage_error(a, "-r takes lambda >= 0", a->opt_val[i]);
        } else if (!strcmp(a->opt_name[i], "-l1") || !strcmp(a->opt_name[i], "-l2")) {
            lam[i] = cur;
            cur = -1;
        }
    }
    for (i = 0; i < a->nopt; i++) { /* BART's terms in command-line order */
        const char *nm = a->opt_name[i];
        if (strcmp(nm, "-l1") && strcmp(nm, "-l2") && strcmp(nm, "-R")) continue;
        if ((rc = pics_term(a, nm, a->opt_val[i], lam[i] >= 0 ? lam[i] : cur >= 0 ? cur : 0, o, &kinds))) return rc;
        nt++;
    }
    if (nt == 0) return usage_error(a, "a regularisation: -l2, -l1 or -R W:FLAGS:0:LAMBDA / T:FLAGS:0:LAMBDA / Q:LAMBDA", "(none)");
    o->admm = opt_flag(a, "-m");
    *l1 = (kinds & ~1u) != 0;
    if (o->admm || nt > 1 || (kinds & 196u)) { /* ADMM: every term a term (lambda 0 would drop it) */
        if ((kinds & 1u) && !(o->lambda > 0)) return usage_error(a, "ADMM's l2 term needs LAMBDA > 0", "-l2 / -R Q");
        if ((kinds & 2u) && !(o->l1_wavelet > 0)) return usage_error(a, "ADMM's l1-wavelet term needs LAMBDA > 0", "-l1 / -R W");
        if ((rc = pics_admm_opts(a, o))) return rc;
    } else if ((kinds & 2u) && !(o->l1_wavelet > 0)) {
        return usage_error(a, "-l1 / -R W needs LAMBDA > 0", opt_str(a, "-r") ? opt_str(a, "-r") : "(no -r)");
    }
    o->no_randshift = opt_flag(a, "-n");
    o->joint = opt_flag(a, "--joint"); /* BART's solve of a series: the frames as one image */
    o->step_eigen = opt_flag(a, "-e"); /* FISTA's step over BART's eigenvalue estimate (CG, ADMM: no step) */
    if (wt) {
        if (!strcmp(wt, "dau2")) o->wavelet = MV_WAVELET_DAU2;
        else if (!strcmp(wt, "haar")) o->wavelet = MV_WAVELET_HAAR;
        else if (!strcmp(wt, "cdf44")) o->wavelet = MV_WAVELET_CDF44;
        else return usage_error(a, "--wavelet takes haar, dau2 or cdf44", wt);
    }
    if (opt_str(a, "-s")) {
        double d;
        if (parse_list(opt_str(a, "-s"), &d, 1) != 1 || !(d > 0)) return usage_error(a, "-s takes a step > 0", opt_str(a, "-s"));
        o->step = d;
    }
    if (opt_str(a, "-b")) {
        int64_t v;
        if (opt_int(a, "-b", 1, 4096, &v) < 0) return usage_error(a, "-b takes a block side (1 .. 4096)", opt_str(a, "-b"));
        o->llr_block = (int)v;
    }
    o->real_value = opt_flag(a, "-c"); /* BART's real-value constraint */
    if (opt_flag(a, "-I")) { /* BART's IST in place of its FISTA */
        if (o->admm || nt > 1 || (kinds & 197u))
            return usage_error(a, "-I (IST) takes one l1-wavelet, l1, non-negativity or low-rank term (what BART "
                                  "solves by FISTA)", "-I");
        o->ist = 1;
    }
    return 0;
}

/* MAPS as the library takes them: (x, y, z, C) or (x, y, z, C, M) (BART's
   ecalib -m 2), nothing beyond */
static int pics_maps_axis(const args *a, const mv_vol *s)
{
    int ax;
    for (ax = 5; ax < s->ndim; ax++)
        if (s->dim[ax] > 1) return usage_error(a, "MAPS must be (x, y, z, coils[, maps])", a->pos[1]);
    return 0;
}

/* pics's inputs but the k-space's samples: TRAJ (-t; folded), MAPS and the
   k-space's 16 sizes kd. A trajectory shared along some of the folded
   frame axes and not along others is refused (one folded axis is shared
   or not). 0 or the exit status, t and s empty then. */
static int pics_inputs(const args *a, mv_vol *t, mv_vol *s, int64_t kd[16])
{
    const char *tp = opt_str(a, "-t");
    int64_t td[16];
    mv_status st;
    int rc;
    mv_vol_init(t);
    mv_vol_init(s);
    if (tp && (rc = cfl_load_folded(tp, t, td))) return rc;
    st = mv_cfl_dims(a->pos[0], kd);
    if (st != MV_OK) rc = fail_at(st, a->pos[0]);
    else if (!(rc = cfl_load_folded(a->pos[1], s, NULL)) && !(rc = pics_maps_axis(a, s)) && tp)
        rc = cfl_fold_broadcast(a, tp, td, kd);
    if (rc) {
        mv_free(t);
        mv_free(s);
    }
    return rc;
}

/* pics -d LEVEL >= 5 (BART's DP_DEBUG3, its per-iteration lines): each
   iteration's relative residual on stderr */
static int pics_progress(void *user, int iteration, double residual)
{
    (void)user;
    fprintf(stderr, "pics: iteration %d: residual %.6g\n", iteration, residual);
    return 0;
}

/* pics -f RFOV: the maps outside a centred box of RFOV of x, y, z (axes of
   one sample untouched) set to 0, as BART's apply_mask: the box's side the
   float product size * RFOV truncated, starting at |size/2 - side/2| */
static void pics_restrict_fov(mv_vol *s, float rfov)
{
    int64_t lo[3], hi[3], i, n = mv_vol_count(s), nxyz = s->dim[0] * s->dim[1] * s->dim[2];
    int a;
    for (a = 0; a < 3; a++) {
        int64_t side = s->dim[a] == 1 ? 1 : (int64_t)((float)s->dim[a] * rfov);
        lo[a] = s->dim[a] / 2 - side / 2;
        if (lo[a] < 0) lo[a] = -lo[a];
        hi[a] = lo[a] + side;
    }
    for (i = 0; i < n; i++) {
        int64_t v = i % nxyz, x = v % s->dim[0], y = v / s->dim[0] % s->dim[1], z = v / (s->dim[0] * s->dim[1]);
        if (x < lo[0] || x >= hi[0] || y < lo[1] || y >= hi[1] || z < lo[2] || z >= hi[2])
            ((float *)s->data)[2 * i] = ((float *)s->data)[2 * i + 1] = 0;
    }
}

/* pics -W IMG: BART's warm start, an image of the output's 16 sizes od,
   divided by the data scale div (BART: by its scale with -S, the image
   being scaled back). 0 or the exit status (*x0 empty then). */
static int pics_start(const args *a, const int64_t od[16], double div, mv_vol *x0)
{
    const char *wp = opt_str(a, "-W");
    int64_t wd[16], i, n;
    int ax, rc;
    if ((rc = cfl_load_folded(wp, x0, wd))) return rc;
    for (ax = 0; ax < 16; ax++)
        if (wd[ax] != od[ax]) {
            char msg[160];
            snprintf(msg, sizeof(msg), "-W: BART's axis %d holds %lld samples in the start image and %lld in the "
                     "output (the start is an image of the output's sizes)", ax, (long long)wd[ax], (long long)od[ax]);
            mv_free(x0);
            return usage_error(a, msg, wp);
        }
    n = 2 * mv_vol_count(x0);
    for (i = 0; div != 1 && i < n; i++) ((float *)x0->data)[i] = (float)(((float *)x0->data)[i] / div);
    return 0;
}

/* pics -B -t without -p: BART estimates a 0/1 pattern from the k-space's
   nonzero samples (in some coil) and weights the NUFFT by it; *w gets it
   (float32, k's dims with one coil) when some sample is zero in every
   coil, else stays empty (every weight 1). 0 or the exit status. */
static int pics_basis_pattern(const args *a, const mv_vol *k, mv_vol *w)
{
    int64_t d[MV_MAX_DIMS], i, c, n, nc = k->dim[3], zeros = 0;
    const float *kv = (const float *)k->data;
    mv_status st;
    int ax;
    mv_vol_init(w);
    for (ax = 0; ax < MV_MAX_DIMS; ax++) d[ax] = ax < k->ndim ? k->dim[ax] : 1;
    d[3] = 1;
    if ((st = mv_vol_alloc(w, MV_DT_F32, MV_MAX_DIMS, d, NULL)) != MV_OK) return fail_at(st, a->pos[0]);
    n = mv_vol_count(w);
    for (i = 0; i < n; i++) { /* sample i of frame f: at (f nc + c) m + j, m = n / frames */
        const int64_t m = d[0] * d[1] * d[2], f = i / m, j = i % m;
        int any = 0;
        for (c = 0; c < nc && !any; c++) any = kv[2 * ((f * nc + c) * m + j)] != 0 || kv[2 * ((f * nc + c) * m + j) + 1] != 0;
        ((float *)w->data)[i] = any ? 1.0f : 0.0f;
        zeros += !any;
    }
    if (!zeros) mv_free(w);
    return 0;
}

/* pics after its options: the solve of KSPACE with TRAJ t (nc), MAPS s,
   opts o (pat: -p's P, the weights in o->weights); frees t and s */
static int pics_solve(const args *a, mv_vol *tp, mv_vol *sp, const int64_t kdin[16], mv_cg_opts *op, double scale,
                      int l1, int rescale, int nc, const mv_vol *pat)
{
    mv_vol k, s = *sp, t = *tp, out, x0, bw;
    mv_cg_opts o = *op;
    int64_t od[16], kd[16];
    int rc;
    mv_status st;
    memcpy(kd, kdin, sizeof(kd));
    /* BART divides the data by its scale (estimated unless -w) and -S
       multiplies the image back. The l2 image is linear in the data, so
       with -S it needs no scale; the l1 image is not. */
    if (o.chunk && opt_str(a, "-W")) {
        mv_free(&t);
        mv_free(&s);
        return usage_error(a, "-W with --chunk is not implemented (the start image is read whole)", opt_str(a, "-W"));
    }
    if (o.chunk) {
        int want = scale == 0 && (!rescale || l1);
        rc = pics_chunked(a, nc ? &t : NULL, &s, kd, &o, rescale && !l1 ? 0 : scale, want, rescale, pat);
        mv_free(&t);
        mv_free(&s);
        return rc;
    }
    pics_out_dims(kd, &s, o.basis, od);
    if ((rc = pics_tv_frames(a, &o, od)) || (rc = cfl_load_folded(a->pos[0], &k, kd))) {
        mv_free(&t);
        mv_free(&s);
        return rc;
    }
    pics_out_dims(kd, &s, o.basis, od); /* the sizes read with the samples */
    if (s.ndim > 4 && s.dim[4] > 1 && k.ndim > 4 && k.dim[4] > 1) {
        mv_free(&k);
        mv_free(&t);
        mv_free(&s);
        return usage_error(a, "with several maps the k-space's dims[4] (BART's maps axis) must be 1", a->pos[0]);
    }
    mv_vol_init(&bw);
    if (o.basis && nc && !o.weights) {
        if ((rc = pics_basis_pattern(a, &k, &bw))) {
            mv_free(&k);
            mv_free(&t);
            mv_free(&s);
            return rc;
        }
        if (bw.data) o.weights = &bw;
    }
    if (rescale && !l1) scale = 0;
    else if (scale == 0) {
        if (nc || !pat) {
            st = nc ? mv_bart_scale_estimate_nc(&t, &k, &s, &scale, &o) : mv_bart_scale_estimate(&k, &scale, NULL);
        } else { /* BART 0.9 on: the scale of the data times the pattern */
            mv_vol kp;
            mv_vol_init(&kp);
            st = mv_vol_copy(&k, &kp);
            if (st == MV_OK) pics_apply_pattern(&kp, pat);
            if (st == MV_OK) st = mv_bart_scale_estimate(&kp, &scale, NULL);
            mv_free(&kp);
        }
        if (st != MV_OK) {
            mv_free(&bw);
            mv_free(&k);
            mv_free(&s);
            mv_free(&t);
            return fail_at(st, a->pos[0]);
        }
        if (scale == 0) scale = 1;
    }
    o.scale = scale;
    mv_vol_init(&out);
    mv_vol_init(&x0);
    if (opt_str(a, "-W") && (rc = pics_start(a, od, rescale && scale > 0 ? scale : 1, &x0))) {
        mv_free(&bw);
        mv_free(&k);
        mv_free(&s);
        mv_free(&t);
        return rc;
    }
    if (opt_str(a, "-W")) o.start = &x0;
    {
        double t0 = now_ms();
        st = nc ? mv_cgsense_nc(&t, &k, &s, &out, &o) : mv_cgsense(&k, &s, &out, &o);
        if (opt_flag(a, "--time")) fprintf(stderr, "pics: %.1f ms, %d iterations\n", now_ms() - t0, o.iterations_done);
    }
    mv_free(&x0);
    mv_free(&bw);
    mv_free(&k);
    mv_free(&s);
    mv_free(&t);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    if (rescale && scale > 0 && scale != 1) {
        int64_t i, n = 2 * mv_vol_count(&out);
        float *p = (float *)out.data;
        for (i = 0; i < n; i++) p[i] = (float)(p[i] * scale);
    }
    return cfl_save_dims(a->pos[2], &out, od); /* (x, y, z, M, frames...) in BART's (x, y, z, 1, M, frames...) */
}

static int cmd_pics(const args *a)
{
    mv_vol s, t, pat, w, bv, bt;
    mv_cg_opts o = MV_ZERO_INIT;
    double d, scale = 0;
    int64_t v, kd[16];
    int rc, l1 = 0, rescale = opt_flag(a, "-S"), nc = opt_str(a, "-t") != NULL;
    if ((rc = pics_reg(a, &o, &l1))) return rc;
    if (opt_int(a, "-i", 1, 100000, &v) < 0) return usage_error(a, "-i takes an iteration count", opt_str(a, "-i"));
    o.iterations = opt_str(a, "-i") ? (int)v : 30;
    if (opt_num(a, "-w", &d) < 0 || (opt_str(a, "-w") && !(d > 0))) return usage_error(a, "-w takes a scale > 0", opt_str(a, "-w"));
    if (opt_str(a, "-w")) scale = d;
    if (opt_num(a, "--tol", &d) < 0 || (opt_str(a, "--tol") && !(d >= 0))) return usage_error(a, "--tol takes a value >= 0", opt_str(a, "--tol"));
    if (opt_str(a, "--tol")) o.tolerance = d;
    if (opt_num(a, "--nufft-tol", &d) < 0 || (opt_str(a, "--nufft-tol") && !(d >= 1e-6 && d <= 0.1)))
        return usage_error(a, "--nufft-tol takes a value in [1e-6, 0.1]", opt_str(a, "--nufft-tol"));
    if (opt_str(a, "--nufft-tol")) o.nufft_tol = d;
    if (opt_int(a, "--chunk", 1, 1 << 20, &v) < 0) return usage_error(a, "--chunk takes an item count >= 1", opt_str(a, "--chunk"));
    if (opt_str(a, "--chunk")) o.chunk = v;
    if (opt_int(a, "-d", 0, 9, &v) < 0) return usage_error(a, "-d takes a debug level 0 .. 9", opt_str(a, "-d"));
    if (opt_str(a, "-d") && v >= 5) o.progress = pics_progress;
    if (opt_num(a, "-f", &d) < 0 || (opt_str(a, "-f") && !(d > 0 && d <= 1)))
        return usage_error(a, "-f takes the restricted FOV's fraction in (0, 1]", opt_str(a, "-f"));
    if (opt_int(a, "-G", 0, 1024, &v) < 0) return usage_error(a, "-G takes a GPU number", opt_str(a, "-G"));
    if (opt_flag(a, "-g") || opt_str(a, "-G"))
        fprintf(stderr, "mvtool pics: %s: this command runs on the CPU (the device's CG-SENSE is medvol_cuda.h's "
                        "library call)\n", opt_flag(a, "-g") ? "-g" : "-G");
    if (opt_flag(a, "-U") || opt_flag(a, "--lowmem"))
        fprintf(stderr, "mvtool pics: %s: accepted (BART's low-memory NUFFT mode; medvol's NUFFT has one mode, the "
                        "image is the same)\n", opt_flag(a, "-U") ? "-U" : "--lowmem");
    o.bart_fftmod = !nc; /* BART's image at every size (medvol.h, CG-SENSE) */
    if ((rc = pics_inputs(a, &t, &s, kd))) return rc;
    if (opt_str(a, "-f")) pics_restrict_fov(&s, (float)d);
    mv_vol_init(&pat);
    mv_vol_init(&w);
    mv_vol_init(&bv);
    if ((opt_str(a, "-p") && (rc = pics_pattern(a, kd, &pat, &w))) ||
        (opt_str(a, "-B") && (rc = pics_basis(a, kd, &bv, &bt)))) {
        mv_free(&pat);
        mv_free(&w);
        mv_free(&t);
        mv_free(&s);
        return rc;
    }
    if (opt_str(a, "-p")) o.weights = &w;
    if (opt_str(a, "-B")) o.basis = &bt;
    rc = pics_solve(a, &t, &s, kd, &o, scale, l1, rescale, nc, opt_str(a, "-p") ? &pat : NULL);
    mv_free(&pat);
    mv_free(&w);
    mv_free(&bv);
    return rc;
}

/* bart threshold's soft (jf: |x| the norm of each group of samples that
   differ only in the -j axes, any of BART's 16, float sums of squares),
   hard (-H) and binary (-B) modes, in place on in (BART's sizes bd).
   0 or the exit status. */
static int threshold_samples(const args *a, mv_vol *in, const int64_t bd[16], unsigned jf, float lam)
{
    int64_t n = mv_vol_count(in), i, gd[16], ng = 1;
    float *x = (float *)in->data, *norm = NULL;
    cfl_groups g;
    int ax, hard = opt_flag(a, "-H"), binary = opt_flag(a, "-B");
    cfl_groups_init(&g, bd, jf, gd);
    for (ax = 0; ax < 16; ax++) ng *= gd[ax];
    if (jf && !(norm = (float *)calloc((size_t)ng, sizeof(float))))
        return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "threshold: %lld norms", (long long)ng), a->pos[1]);
    for (i = 0; jf && i < n; i++, cfl_groups_next(&g)) norm[g.at] += x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1];
    cfl_groups_init(&g, bd, jf, gd);
    for (i = 0; i < n; i++, cfl_groups_next(&g)) {
        float m = jf ? sqrtf(norm[g.at]) : (float)sqrt((double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1]);
        float keep;
        if (hard) keep = m > lam ? 1.f : 0.f;
        else if (binary) {
            x[2 * i] = m > lam ? 1.f : 0.f;
            x[2 * i + 1] = 0;
            continue;
        } else keep = m - lam > 0 ? (m - lam) / m : 0.f;
        x[2 * i] *= keep;
        x[2 * i + 1] *= keep;
    }
    free(norm);
    return 0;
}

/* bart threshold: soft (default; -j joint over the flagged axes), -W
   wavelet (BART's: Daubechies 2 over x, y, z where they have 16 samples or
   more, coarsest band 16, every other axis a batch, so the folded frames
   are), -H hard, -B binary; OUT gets IN's 16 sizes */
static int cmd_threshold(const args *a)
{
    mv_vol in, out;
    double lambda;
    int64_t jf = 0, bd[16];
    int rc, modes = opt_flag(a, "-W") + opt_flag(a, "-H") + opt_flag(a, "-B");
    mv_status st = MV_OK;
    if (modes > 1) return usage_error(a, "one of -W, -H, -B", "(several)");
    if (parse_list(a->pos[0], &lambda, 1) != 1 || !(lambda >= 0)) return usage_error(a, "lambda >= 0", a->pos[0]);
    if (opt_int(a, "-j", 0, 65535, &jf) < 0 || (jf && modes))
        return usage_error(a, "-j takes a bitmask of the dims thresholded jointly (soft thresholding only)", opt_str(a, "-j"));
    if ((rc = cfl_load_folded(a->pos[1], &in, bd))) return rc;
    mv_vol_init(&out);
    if (opt_flag(a, "-W")) {
        mv_wavelet_opts wo = MV_ZERO_INIT;
        wo.minsize[0] = wo.minsize[1] = wo.minsize[2] = 16;
        st = mv_wavelet_thresh(&in, &out, lambda, &wo);
        mv_free(&in);
        if (st != MV_OK) return fail_at(st, a->pos[1]);
        return cfl_save_dims(a->pos[2], &out, bd);
    }
    if ((rc = threshold_samples(a, &in, bd, (unsigned)jf, (float)lambda))) {
        mv_free(&in);
        return rc;
    }
    return cfl_save_dims(a->pos[2], &in, bd);
}

/* bart wavelet [-a] [-H|-D|-C] bitmask [dims] IN OUT */
static int cmd_wavelet(const args *a)
{
    mv_vol in, out;
    mv_wavelet_opts wo = MV_ZERO_INIT;
    int64_t flags, bd[16], img[3], v;
    int rc, ax, nf = 0, j, types = opt_flag(a, "-H") + opt_flag(a, "-D") + opt_flag(a, "-C");
    const int nd = a->npos - 3;
    mv_status st;
    if (types > 1) return usage_error(a, "one of -H, -D, -C", "(several)");
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK", &flags))) return rc;
    if (flags & ~7) return usage_error(a, "BITMASK: BART's axes 0, 1 and 2 (bits 1, 2, 4)", a->pos[0]);
    for (ax = 0; ax < 3; ax++) nf += (int)(flags >> ax & 1);
    if ((opt_flag(a, "-a") || nd > 0) && nd != nf)
        return usage_error(a, "-a takes one image size per bit of BITMASK", a->pos[0]);
    for (ax = 0, j = 0; ax < 3; ax++) {
        img[ax] = 1;
        if (nd > 0 && (flags >> ax & 1)) {
            if ((rc = arg_int(a, a->pos[1 + j++], 1, (int64_t)1 << 40, "a size", &v))) return rc;
            img[ax] = v;
        }
    }
    wo.type = opt_flag(a, "-H") ? MV_WAVELET_HAAR : opt_flag(a, "-C") ? MV_WAVELET_CDF44 : MV_WAVELET_DAU2;
    wo.axes = (unsigned)flags;
    wo.minsize[0] = wo.minsize[1] = wo.minsize[2] = 16; /* bart wavelet's */
    if ((rc = cfl_load_mapped(a->pos[1 + nd], &in, bd))) return rc;
    if (flags == 0) { /* BART: a copy */
        return cfl_save_dims(a->pos[2 + nd], &in, bd);
    }
    mv_vol_init(&out);
    st = mv_wavelet(&in, &out, nd > 0, img, &wo);
    mv_free(&in);
    if (st != MV_OK) return fail_at(st, a->pos[1 + nd]);
    for (ax = 0; ax < 3; ax++) bd[ax] = out.dim[ax];
    return cfl_save_dims(a->pos[2 + nd], &out, bd);
}

/* bart cdf97 [-i] bitmask IN OUT */
static int cmd_cdf97(const args *a)
{
    mv_vol in, out;
    int64_t flags, bd[16];
    int rc;
    mv_status st;
    if ((rc = arg_int(a, a->pos[0], 0, 65535, "BITMASK", &flags))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &in, bd))) return rc;
    if (flags >> (MV_MAX_DIMS - 1)) { /* BART's axes 6..15 are one folded axis here: only where they hold one sample */
        int ax;
        for (ax = MV_MAX_DIMS - 1; ax < 16; ax++)
            if ((flags >> ax & 1) && bd[ax] > 1) {
                mv_free(&in);
                return usage_error(a, "BITMASK: BART's axes 0 .. 5 (axes 6 .. 15 where they hold one sample)", a->pos[0]);
            }
    }
    mv_vol_init(&out);
    st = mv_cdf97(&in, &out, (unsigned)(flags & ((1 << (MV_MAX_DIMS - 1)) - 1)), opt_flag(a, "-i"), NULL);
    mv_free(&in);
    if (st != MV_OK) return fail_at(st, a->pos[1]);
    return cfl_save_dims(a->pos[2], &out, bd);
}

/* copies the samples of src (sizes sd) at position `from` along axis
   `along` to dst (sizes dd) at positions dpos (along `along` and the axes
   where src holds one sample; 0 elsewhere): bart bin's md_copy_block of a
   slice */
static void bin_copy_slice(const float *src, const int64_t sd[16], int along, int64_t from, float *dst,
                           const int64_t dd[16], const int64_t dpos[16])
{
    int64_t sl[16], c[16], ss[16], ds[16], so, doff;
    int ax;
    memcpy(sl, sd, sizeof(sl));
    sl[along] = 1;
    strides_of(sd, ss), strides_of(dd, ds);
    memset(c, 0, sizeof(c));
    do {
        so = from * ss[along], doff = 0;
        for (ax = 0; ax < 16; ax++) {
            if (ax != along) so += c[ax] * ss[ax];
            doff += (c[ax] + dpos[ax]) * ds[ax];
        }
        memcpy(dst + 2 * doff, src + 2 * so, 8);
    } while (next16(c, sl));
}

/* bart bin: label binning (-l), reordering (-o) or quadrature binning (-R -C) */
static int cmd_bin(const args *a)
{
    mv_vol lab, src, dst;
    int64_t ld[16], sd[16], dd[16], ls[16], v, cl = -1;
    float pr[2] = {0, 1}, pc[2] = {2, 3}, off[2] = {0, 0}; /* bart's OPT_VEC2 and OPT_FLVEC2, "X:Y" */
    int rc, ax, dim = -1, nbig = 0, quad, reorder = opt_flag(a, "-o");
    mv_bin_opts bo;
    memset(&bo, 0, sizeof(bo));
    if (opt_int(a, "-l", 0, 15, &cl) < 0) return usage_error(a, "-l takes BART's axis 0 .. 15", opt_str(a, "-l"));
    if (opt_int(a, "-R", 1, 1 << 20, &v) < 0) return usage_error(a, "-R takes a bin count >= 1", opt_str(a, "-R"));
    if (opt_str(a, "-R")) bo.n_resp = (int)v;
    if (opt_int(a, "-C", 1, 1 << 20, &v) < 0) return usage_error(a, "-C takes a bin count >= 1", opt_str(a, "-C"));
    if (opt_str(a, "-C")) bo.n_card = (int)v;
    if (opt_int(a, "-a", 0, 1 << 30, &v) < 0) return usage_error(a, "-a takes a window >= 0", opt_str(a, "-a"));
    if (opt_str(a, "-a")) bo.mavg_window = (int)v;
    if (opt_int(a, "-A", 0, 1 << 30, &v) < 0) return usage_error(a, "-A takes a window >= 0", opt_str(a, "-A"));
    if (opt_str(a, "-A")) bo.mavg_window_card = (int)v;
    if ((rc = opt_floats(a, "-r", pr, 2)) || (rc = opt_floats(a, "-c", pc, 2)) || (rc = opt_floats(a, "-O", off, 2))) return rc;
    for (ax = 0; ax < 4; ax++) {
        const float e = ax < 2 ? pr[ax] : pc[ax - 2];
        if (e != floorf(e) || !(e >= 0 && e < 65536))
            return usage_error(a, "-r and -c take two EOF indices X:Y", opt_str(a, ax < 2 ? "-r" : "-c"));
    }
    bo.offset_deg[0] = off[0], bo.offset_deg[1] = off[1], bo.amplitude = opt_flag(a, "-M");
    quad = bo.n_resp > 0 || bo.n_card > 0;
    if (quad && (bo.n_resp == 0 || bo.n_card == 0))
        return usage_error(a, "quadrature binning takes both -R and -C", opt_str(a, bo.n_resp ? "-R" : "-C"));
    if (quad + (cl >= 0) + reorder != 1)
        return usage_error(a, "one binning: -R and -C (quadrature), -l DIM (labels) or -o (reorder)", "(none or several)");
    if ((rc = cfl_load_folded(a->pos[0], &lab, ld))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &src, sd))) {
        mv_free(&lab);
        return rc;
    }
    strides_of(ld, ls);
    memcpy(dd, sd, sizeof(dd));
    rc = 0;
    if (quad) {
        const int64_t T = ld[10];
        const int64_t idx[4] = {(int64_t)pr[0], (int64_t)pr[1], (int64_t)pc[0], (int64_t)pc[1]};
        float *eof = NULL;
        int32_t *rb = NULL, *cb = NULL;
        int64_t bmax = 0, t, k, *count = NULL;
        mv_status st = MV_OK;
        for (k = 0; k < 4 && !rc; k++)
            if (idx[k] >= ld[11]) rc = usage_error(a, "an EOF index past the labels' axis 11", a->pos[0]);
        if (!rc && T < 2) rc = usage_error(a, "the labels need their samples along BART's axis 10 (TIME_DIM)", a->pos[0]);
        for (k = 0; k < 16 && !rc; k++)
            if (k != 10 && k != 11 && ld[k] != 1)
                rc = usage_error(a, "the labels: samples along axis 10, EOFs along axis 11, 1 elsewhere", a->pos[0]);
        if (!rc && (sd[10] != T || sd[2] != 1 || sd[11] != 1))
            rc = usage_error(a, "SRC must hold the labels' samples along axis 10 and 1 along axes 2 and 11", a->pos[1]);
        if (!rc) {
            eof = (float *)malloc((size_t)(4 * T) * sizeof(float));
            rb = (int32_t *)malloc((size_t)T * sizeof(int32_t)), cb = (int32_t *)malloc((size_t)T * sizeof(int32_t));
            count = (int64_t *)calloc((size_t)bo.n_resp * (size_t)bo.n_card, sizeof(int64_t));
            if (!eof || !rb || !cb || !count) rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "bin: %lld labels", (long long)T), a->pos[0]);
        }
        for (k = 0; k < 4 && !rc; k++) /* the real parts of the EOFs (BART reads crealf) */
            for (t = 0; t < T; t++) eof[k * T + t] = ((const float *)lab.data)[2 * (t * ls[10] + idx[k] * ls[11])];
        if (!rc) st = mv_quadrature_bins(eof, eof + T, eof + 2 * T, eof + 3 * T, T, &bo, rb, cb, &bmax);
        if (!rc && st != MV_OK) rc = fail_at(st, a->pos[0]);
        if (!rc) {
            dd[10] = bo.n_card, dd[11] = bo.n_resp, dd[2] = bmax;
            rc = alloc16(&dst, dd, a->pos[2]);
        }
        for (t = 0; t < T && !rc; t++) { /* each sample to its bins' next free place along axis 2 (PHS2) */
            int64_t dp[16] = {0}, *c = count + (int64_t)rb[t] * bo.n_card + cb[t];
            dp[10] = cb[t], dp[11] = rb[t], dp[2] = (*c)++;
            bin_copy_slice((const float *)src.data, sd, 10, t, (float *)dst.data, dd, dp);
        }
        free(eof), free(rb), free(cb), free(count);
    } else {
        int64_t N, i, nclu = 0, cmax = 0, *size = NULL, *next = NULL;
        for (ax = 0; ax < 16; ax++)
            if (ld[ax] > 1) dim = ax, nbig++;
        if (nbig != 1) rc = usage_error(a, "LABEL must hold its labels along one axis (bart asserts)", a->pos[0]);
        for (ax = 0; ax < 16 && !rc; ax++)
            if (ld[ax] > sd[ax]) rc = usage_error(a, "LABEL holds more labels than SRC has samples on that axis", a->pos[0]);
        if (!rc && cl >= 0 && sd[cl] != 1) rc = usage_error(a, "-l: SRC must hold one sample along that axis (bart: choose empty cluster dimension)", opt_str(a, "-l"));
        N = nbig == 1 ? ld[dim] : 0;
        for (i = 0; i < N && !rc; i++) {
            const float lv = ((const float *)lab.data)[2 * i];
            if (!(lv >= 0 && lv < 2147483647.f)) rc = usage_error(a, "labels are whole numbers >= 0", a->pos[0]);
            else if ((int64_t)lv + 1 > nclu) nclu = (int64_t)lv + 1;
        }
        if (!rc && reorder && nclu > sd[dim]) rc = usage_error(a, "-o: a label past SRC's samples on the labels' axis", a->pos[0]);
        if (!rc) {
            size = (int64_t *)calloc((size_t)nclu + 1, sizeof(int64_t)), next = (int64_t *)calloc((size_t)nclu + 1, sizeof(int64_t));
            if (!size || !next) rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "bin: %lld clusters", (long long)nclu), a->pos[0]);
        }
        for (i = 0; i < N && !rc; i++) {
            const int64_t s = ++size[(int64_t)((const float *)lab.data)[2 * i]];
            if (s > cmax) cmax = s;
        }
        if (!rc) {
            if (reorder) dd[dim] = N;
            else dd[cl] = cmax, dd[dim] = nclu;
            rc = alloc16(&dst, dd, a->pos[2]);
        }
        for (i = 0; i < N && !rc; i++) {
            const int64_t lv = (int64_t)((const float *)lab.data)[2 * i];
            int64_t dp[16] = {0};
            if (reorder) { /* dst's slice i is src's slice lv */
                dp[dim] = i;
                bin_copy_slice((const float *)src.data, sd, dim, lv, (float *)dst.data, dd, dp);
            } else { /* src's slice i to cluster lv, its next place along -l's axis */
                dp[dim] = lv, dp[cl] = next[lv]++;
                bin_copy_slice((const float *)src.data, sd, dim, i, (float *)dst.data, dd, dp);
            }
        }
        free(size), free(next);
    }
    mv_free(&lab);
    mv_free(&src);
    if (rc) return rc;
    return cfl_save_dims(a->pos[2], &dst, dd);
}

/* bart rmfreq [-N n] [-M mod] TRAJ K K_COR */
static int cmd_rmfreq(const args *a)
{
    mv_vol tr, k, md, out;
    int64_t td[16], kd[16], mdd[16], ts[16], ks[16], v, T, P, C, c, p, t;
    int rc, ax, harm = 5;
    float *th = NULL, *buf = NULL, *mb = NULL;
    const char *mf = opt_str(a, "-M");
    if (opt_int(a, "-N", 1, 4096, &v) < 0) return usage_error(a, "-N takes a number of harmonics >= 1", opt_str(a, "-N"));
    if (opt_str(a, "-N")) harm = (int)v;
    if ((rc = cfl_load_mapped(a->pos[0], &tr, td))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &k, kd))) {
        mv_free(&tr);
        return rc;
    }
    mv_vol_init(&md), mv_vol_init(&out);
    rc = 0;
    for (ax = 0; ax < 16 && !rc; ax++)
        if (ax != 3 && ax != 10 && ax != 13 && kd[ax] != 1)
            rc = usage_error(a, "K: only BART's axes 3 (coils), 10 (time) and 13 (partitions) may hold samples", a->pos[1]);
    if (!rc && td[0] != 3) rc = usage_error(a, "TRAJ: 3 coordinates along axis 0", a->pos[0]);
    for (ax = 2; ax < 16 && !rc; ax++)
        if (ax != 3 && td[ax] != kd[ax]) rc = usage_error(a, "k-space and trajectory inconsistent (bart's words)", a->pos[0]);
    if (!rc && mf) {
        if ((rc = cfl_load_mapped(mf, &md, mdd)) == 0)
            for (ax = 0; ax < 16 && !rc; ax++)
                if (mdd[ax] != kd[ax]) rc = usage_error(a, "-M: the modulation must have K's sizes", mf);
    }
    T = kd[10], P = kd[13], C = kd[3];
    strides_of(td, ts), strides_of(kd, ks);
    if (!rc) {
        th = (float *)malloc((size_t)(T * P) * sizeof(float));
        buf = (float *)malloc((size_t)(2 * T) * sizeof(float)), mb = (float *)malloc((size_t)(2 * T) * sizeof(float));
        if (!th || !buf || !mb) rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "rmfreq: %lld samples", (long long)T), a->pos[1]);
    }
    if (!rc) rc = alloc16(&out, kd, a->pos[2]);
    for (p = 0; p < P && !rc; p++) /* each spoke's angle from its first trajectory sample */
        for (t = 0; t < T; t++) {
            const float *q = (const float *)tr.data + 2 * (t * ts[10] + p * ts[13]);
            th[p * T + t] = mv_rmfreq_angle(q[0], q[2 * ts[0]]);
        }
    for (c = 0; c < C && !rc; c++) /* coil by coil, partition by partition */
        for (p = 0; p < P && !rc; p++) {
            const int64_t base = c * ks[3] + p * ks[13];
            mv_status st;
            for (t = 0; t < T; t++) {
                memcpy(buf + 2 * t, (const float *)k.data + 2 * (base + t * ks[10]), 8);
                if (mf) memcpy(mb + 2 * t, (const float *)md.data + 2 * (base + t * ks[10]), 8);
            }
            st = mv_rmfreq(buf, th + p * T, mf ? mb : NULL, T, harm, buf);
            if (st != MV_OK) rc = fail_at(st, a->pos[1]);
            for (t = 0; t < T && !rc; t++) memcpy((float *)out.data + 2 * (base + t * ks[10]), buf + 2 * t, 8);
        }
    free(th), free(buf), free(mb);
    mv_free(&tr), mv_free(&k), mv_free(&md);
    if (rc) {
        mv_free(&out);
        return rc;
    }
    return cfl_save_dims(a->pos[2], &out, kd);
}

/* ssa -w W [-z] [-m 0|1] [-n 0|1] [-r R] [-g G] SRC EOF [S] [BACK] (bart ssa): mv_ssa on SRC's
   (samples, coordinates); EOF (P, P), S (P), BACK SRC's sizes */
static int cmd_ssa(const args *a)
{
    mv_vol src, eof, s, back, sc;
    mv_ssa_opts o;
    int64_t bd[16], od[16], v, i;
    const int want_back = a->npos > 3;
    int rc, ax;
    mv_status st;
    memset(&o, 0, sizeof(o));
    if (opt_int(a, "-w", 1, 1 << 20, &v) <= 0) return usage_error(a, "specify the window length -w (bart's words)", opt_str(a, "-w") ? opt_str(a, "-w") : "-w");
    o.window = v;
    o.no_zeropad = opt_flag(a, "-z");
    if (opt_int(a, "-m", 0, 1, &v) < 0) return usage_error(a, "-m takes 0 or 1", opt_str(a, "-m"));
    if (opt_str(a, "-m")) o.keep_mean = !v;
    if (opt_int(a, "-n", 0, 1, &v) < 0) return usage_error(a, "-n takes 0 or 1", opt_str(a, "-n"));
    if (opt_str(a, "-n")) o.normalize = (int)v;
    if (opt_int(a, "-r", -65536, 65536, &v) < 0) return usage_error(a, "-r takes a rank", opt_str(a, "-r"));
    if (opt_str(a, "-r")) o.rank = (int)v;
    if (opt_int(a, "-g", -((int64_t)1 << 62), (int64_t)1 << 62, &v) < 0) return usage_error(a, "-g takes a bitmask", opt_str(a, "-g"));
    if (opt_str(a, "-g")) o.group = v;
    if (want_back && o.rank == 0 && o.group == 0)
        return usage_error(a, "specify rank or group for backprojection (bart's words: -r or -g)", a->pos[3]);
    if ((rc = cfl_load_mapped(a->pos[0], &src, bd))) return rc;
    for (ax = 2; ax < 16; ax++)
        if (bd[ax] != 1) {
            mv_free(&src);
            return usage_error(a, "only the first two dimensions may be filled (bart's words)", a->pos[0]);
        }
    mv_vol_init(&eof), mv_vol_init(&s), mv_vol_init(&back), mv_vol_init(&sc);
    st = mv_ssa(&src, &eof, &s, want_back ? &back : NULL, &o);
    mv_free(&src);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    ones16(od), od[0] = od[1] = eof.dim[0];
    if ((rc = cfl_save_dims(a->pos[1], &eof, od))) {
        mv_free(&s), mv_free(&back);
        return rc;
    }
    if (a->npos > 2) { /* BART's S: complex, imaginary 0 */
        ones16(od), od[0] = s.dim[0];
        if ((rc = alloc16(&sc, od, a->pos[2]))) {
            mv_free(&s), mv_free(&back);
            return rc;
        }
        for (i = 0; i < s.dim[0]; i++) ((float *)sc.data)[2 * i] = ((const float *)s.data)[i];
        if ((rc = cfl_save_dims(a->pos[2], &sc, od))) {
            mv_free(&s), mv_free(&back);
            return rc;
        }
    }
    mv_free(&s);
    if (want_back) return cfl_save_dims(a->pos[3], &back, bd);
    return 0;
}

static int cmd_grappa(const args *a)
{
    mv_vol k, out, g;
    mv_grappa_opts o = MV_ZERO_INIT;
    int64_t v, kk[3], kd[16];
    double d;
    int rc, n;
    const char *ks = opt_str(a, "--kernel");
    if (opt_int(a, "--acs", 2, 4096, &v) < 0) return usage_error(a, "--acs takes a line count", opt_str(a, "--acs"));
    if (opt_str(a, "--acs")) o.acs[1] = o.acs[2] = (int)v;
    if (opt_int(a, "--accel", 2, 16, &v) < 0) return usage_error(a, "--accel takes R in 2..16", opt_str(a, "--accel"));
    if (opt_str(a, "--accel")) o.accel[1] = (int)v;
    if (opt_num(a, "--lambda", &d) < 0) return usage_error(a, "--lambda takes a number", opt_str(a, "--lambda"));
    if (opt_str(a, "--lambda")) o.lambda = d > 0 ? d : -1;
    o.three_d = opt_flag(a, "--3d");
    if (ks) {
        char buf[64];
        size_t i;
        if (strlen(ks) >= sizeof(buf)) return usage_error(a, "--kernel takes XxY or XxYxZ", ks);
        strcpy(buf, ks);
        for (i = 0; buf[i]; i++)
            if (buf[i] == 'x') buf[i] = ',';
        n = parse_ints(buf, kk, 3, 1, 64);
        if (n < 2) return usage_error(a, "--kernel takes XxY or XxYxZ", ks);
        o.kernel[0] = (int)kk[0];
        o.kernel[1] = (int)kk[1];
        if (n == 3) o.kernel[2] = (int)kk[2];
    }
    if ((rc = cfl_load_folded(a->pos[0], &k, kd))) return rc;
    mv_vol_init(&out);
    mv_vol_init(&g);
    {
        mv_grappa_calib *cal = NULL;
        double t0 = now_ms(), t1, t2, t3;
        mv_status st = mv_grappa_calibrate(&k, &cal, &o);
        t1 = now_ms();
        if (st == MV_OK) st = mv_grappa_apply(cal, &k, &out, &o);
        t2 = now_ms();
        if (st == MV_OK && opt_str(a, "--gfactor")) st = mv_grappa_gfactor(cal, NULL, &g, &o);
        t3 = now_ms();
        if (opt_flag(a, "--time"))
            fprintf(stderr, "grappa: calibration %.1f ms, application %.1f ms (%lld slices x %lld volumes), g-factor %.1f ms\n",
                    t1 - t0, t2 - t1, (long long)k.dim[2], (long long)(mv_vol_count(&k) / (k.dim[0] * k.dim[1] * k.dim[2] * (k.ndim > 3 ? k.dim[3] : 1))), t3 - t2);
        mv_grappa_free(cal);
        mv_free(&k);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
    }
    if ((rc = cfl_save_dims(a->pos[1], &out, kd))) {
        mv_free(&g);
        return rc;
    }
    if (opt_str(a, "--gfactor")) {
        mv_vol c;
        mv_status st = mv_convert(&g, &c, MV_DT_C64, NULL);
        mv_free(&g);
        if (st != MV_OK) return fail_at(st, opt_str(a, "--gfactor"));
        return cfl_save_dims(opt_str(a, "--gfactor"), &c, NULL);
    }
    return 0;
}

/* nlinv -d LEVEL >= 4: each Gauss-Newton step's residual, as BART's debug lines */
static int nlinv_progress(void *user, int step, double residual)
{
    (void)user;
    fprintf(stderr, "Step: %d, Res: %f\n", step - 1, residual);
    return 0;
}

/* an nlinv input's frame axes (BART's 4..15): each 1 or the k-space's
   (cfl_broadcast), none more, and shared along all of BART's folded axes
   or none (cfl_fold_broadcast) */
static int nlinv_frames(const args *a, const char *name, const int64_t x[16], const int64_t kd[16])
{
    int64_t out[16];
    int rc = cfl_broadcast(a, name, x, a->pos[0], kd, 4, out), ax;
    for (ax = 4; ax < 16 && !rc; ax++)
        if (out[ax] != kd[ax]) {
            char msg[160];
            snprintf(msg, sizeof(msg), "BART's axis %d holds %lld samples where the k-space has 1", ax, (long long)x[ax]);
            rc = usage_error(a, msg, name);
        }
    return rc ? rc : cfl_fold_broadcast(a, name, x, kd);
}

/* rtnlinv's -p / -t: BART's turns, any count along TIME_DIM (10), every
   other frame axis 1 */
static int rtnlinv_turns(const args *a, const char *name, const int64_t x[16])
{
    int ax;
    for (ax = 4; ax < 16; ax++)
        if (ax != 10 && x[ax] != 1) {
            char msg[160];
            snprintf(msg, sizeof(msg), "BART's axis %d holds %lld samples (rtnlinv's turns run along axis 10 only)", ax,
                     (long long)x[ax]);
            return usage_error(a, msg, name);
        }
    return 0;
}

/* nlinv and rtnlinv (rt): BART's options, the library's NLINV */
static int nlinv_run(const args *a, int rt)
{
    static const char *const refused[][2] = {
        {"-I", "an initialisation file (BART's -I) is not implemented"},
        {"-C", "an initialisation with image-space coils (BART's -C) is not implemented"},
        {"-A", "SSA-FARY's alternative scaling (BART's -A) is not implemented"},
        {"-P", "a pattern per coil (BART's -P) is not implemented"}};
    const char *cmd = rt ? "rtnlinv" : "nlinv";
    mv_vol k, img, sens, pat, tr;
    mv_nlinv_opts o = MV_ZERO_INIT;
    int64_t v, kd[16], od[16], sd[16], pd[16], td[16];
    double d;
    int rc, ax;
    size_t i;
    mv_status st;
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (opt_str(a, refused[i][0]) || opt_flag(a, refused[i][0]))
            return usage_error(a, refused[i][1], refused[i][0]);
    if (rt && opt_flag(a, "-s")) return usage_error(a, "SMS-NLINV (BART rtnlinv's -s) is not implemented", "-s");
    if (rt && !opt_str(a, "-p") == !opt_str(a, "-t"))
        return usage_error(a, "pass either a trajectory (-t) or a PSF (-p), as BART rtnlinv", a->pos[0]);
    if (rt) {
        o.realtime = 1;
        o.noncart = opt_str(a, "-p") != NULL; /* BART rtnlinv -p: nlinv -n's model */
        if (opt_num(a, "-T", &d) < 0 || (opt_str(a, "-T") && !(d >= 0 && d <= 1e6)))
            return usage_error(a, "-T takes a temporal damping >= 0", opt_str(a, "-T"));
        if (opt_str(a, "-T")) o.temporal_damping = d == 0 ? -1 : d;
    } else {
        o.noncart = opt_flag(a, "-n") && !opt_str(a, "-t"); /* BART nlinv -n: gridded data, -p its PSF */
    }
    if (opt_int(a, "-i", 1, 1000, &v) < 0) return usage_error(a, "-i takes a step count 1 .. 1000", opt_str(a, "-i"));
    if (opt_str(a, "-i")) o.iterations = (int)v;
    if (opt_int(a, "-m", 1, 16, &v) < 0) return usage_error(a, "-m takes a map count 1 .. 16", opt_str(a, "-m"));
    if (opt_str(a, "-m")) o.maps = (int)v;
    if (opt_num(a, "-R", &d) < 0 || (opt_str(a, "-R") && !(d > 0))) return usage_error(a, "-R takes a reduction factor > 0", opt_str(a, "-R"));
    if (opt_str(a, "-R")) o.redu = d;
    if (opt_num(a, "-M", &d) < 0 || (opt_str(a, "-M") && !(d >= 0))) return usage_error(a, "-M takes a minimum >= 0", opt_str(a, "-M"));
    if (opt_str(a, "-M")) o.alpha_min = d;
    if (opt_num(a, "-a", &d) < 0 || (opt_str(a, "-a") && !(d > 0))) return usage_error(a, "-a takes a > 0", opt_str(a, "-a"));
    if (opt_str(a, "-a")) o.sobolev_a = d;
    if (opt_num(a, "-b", &d) < 0 || (opt_str(a, "-b") && !(d > 0))) return usage_error(a, "-b takes b > 0", opt_str(a, "-b"));
    if (opt_str(a, "-b")) o.sobolev_b = d;
    if (opt_num(a, "-w", &d) < 0 || (opt_str(a, "-w") && !(d > 0))) return usage_error(a, "-w takes a scale > 0", opt_str(a, "-w"));
    if (opt_str(a, "-w")) o.data_scale = d;
    if (opt_int(a, "-d", 0, 9, &v) < 0) return usage_error(a, "-d takes a debug level 0 .. 9", opt_str(a, "-d"));
    if (opt_str(a, "-d") && v >= 4) o.progress = nlinv_progress;
    if (opt_int(a, "--cg-iter", 1, 100000, &v) < 0) return usage_error(a, "--cg-iter takes 1 .. 100000", opt_str(a, "--cg-iter"));
    if (opt_str(a, "--cg-iter")) o.cg_iterations = (int)v;
    if (opt_num(a, "--cg-tol", &d) < 0 || (opt_str(a, "--cg-tol") && !(d > 0))) return usage_error(a, "--cg-tol takes a value > 0", opt_str(a, "--cg-tol"));
    if (opt_str(a, "--cg-tol")) o.cg_tol = d;
    if (opt_num(a, "--nufft-tol", &d) < 0 || (opt_str(a, "--nufft-tol") && !(d >= 1e-6 && d <= 0.1)))
        return usage_error(a, "--nufft-tol takes a value in [1e-6, 0.1]", opt_str(a, "--nufft-tol"));
    if (opt_str(a, "--nufft-tol")) o.nufft_tol = d;
    if (opt_num(a, "-f", &d) < 0 || (opt_str(a, "-f") && !(d > 0 && d <= 1)))
        return usage_error(a, "-f takes a FOV fraction in (0, 1]", opt_str(a, "-f"));
    if (opt_str(a, "-f")) o.restrict_fov = d;
    if (opt_str(a, "-x")) { /* BART 0.9's explicit image dims x:y:z */
        int64_t xd[3];
        char xs[64];
        size_t xi;
        snprintf(xs, sizeof(xs), "%s", opt_str(a, "-x"));
        for (xi = 0; xs[xi]; xi++)
            if (xs[xi] == ':') xs[xi] = ','; /* BART's x:y:z */
        if (parse_ints(xs, xd, 3, 1, 65536) != 3 || !opt_str(a, "-t"))
            return usage_error(a, "-x takes x:y:z image dims, with -t", opt_str(a, "-x"));
        for (ax = 0; ax < 3; ax++) { /* rtnlinv's -x: the grid, twice the image */
            if (rt && xd[ax] > 1 && xd[ax] % 2)
                return usage_error(a, "-x: rtnlinv's grid sizes above 1 must be even here (the image is half)",
                                   opt_str(a, "-x"));
            o.image_dims[ax] = rt && xd[ax] > 1 ? xd[ax] / 2 : xd[ax];
        }
    }
    if (opt_flag(a, "-g") || opt_flag(a, "--lowmem"))
        fprintf(stderr, "%s: %s accepted and noted (the CPU library call)\n", cmd, opt_flag(a, "-g") ? "-g" : "--lowmem");
    o.real_value = opt_flag(a, "-c");
    o.no_normalize = opt_flag(a, "-N");
    o.uncombined = opt_flag(a, "-U") || (rt && o.maps > 1); /* bart rtnlinv writes each map's image, -U or not */
    o.rescale = opt_flag(a, "-S");
    if ((rc = cfl_load_folded(a->pos[0], &k, kd))) return rc;
    if (rt)
        for (ax = 5; ax < 16; ax++)
            if (ax != 10 && ax != 13 && kd[ax] > 1) {
                char msg[160];
                snprintf(msg, sizeof(msg), "BART's axis %d holds %lld samples (rtnlinv's frames run along axis 10)", ax,
                         (long long)kd[ax]);
                mv_free(&k);
                return usage_error(a, msg, a->pos[0]);
            }
    if (!rt && opt_str(a, "-s")) { /* BART's axes of constant coils: every frame axis of the k-space, or none of them */
        int64_t fl;
        if (parse_ints(opt_str(a, "-s"), &fl, 1, 0, 65535) != 1 || (fl & 31)) {
            mv_free(&k);
            return usage_error(a, "-s takes a bitmask of BART's frame axes 5..15 (1024: TIME_DIM)", opt_str(a, "-s"));
        }
        for (ax = 5; ax < 16; ax++)
            if (kd[ax] > 1 && !(fl & (1 << ax))) break;
        if (ax < 16 && fl) {
            char msg[160];
            snprintf(msg, sizeof(msg), "-s: BART's axis %d holds %lld frames outside the mask (coils shared along "
                     "every frame axis or none)", ax, (long long)kd[ax]);
            mv_free(&k);
            return usage_error(a, msg, opt_str(a, "-s"));
        }
        o.shared_coils = fl != 0;
    }
    if (kd[4] > 1 || kd[13] > 1) { /* bart nlinv asserts the first; the second is its SMS-NLINV */
        mv_free(&k);
        return usage_error(a, kd[4] > 1 ? "BART's maps axis (4) must be 1 in the k-space"
                                        : "BART's slice axis (13) holds SMS data: SMS-NLINV is not implemented", a->pos[0]);
    }
    if (o.maps > (k.ndim > 3 ? k.dim[3] : 1)) {
        mv_free(&k);
        return usage_error(a, "-m: more maps than coils", opt_str(a, "-m"));
    }
    mv_vol_init(&pat);
    mv_vol_init(&tr);
    if (opt_str(a, "-p") && !(rc = cfl_load_folded(opt_str(a, "-p"), &pat, pd))) { /* the k-space's sizes, one coil */
        rc = rt ? rtnlinv_turns(a, opt_str(a, "-p"), pd) : nlinv_frames(a, opt_str(a, "-p"), pd, kd);
        if (!rc && (pd[0] != kd[0] || pd[1] != kd[1] || pd[2] != kd[2] || pd[3] != 1))
            rc = usage_error(a, "-p: the pattern has the k-space's sizes but one coil", opt_str(a, "-p"));
        o.pattern = &pat;
    }
    if (!rc && opt_str(a, "-t") && !(rc = cfl_load_folded(opt_str(a, "-t"), &tr, td))) { /* (3, X, Y, 1, frames...) */
        rc = rt ? rtnlinv_turns(a, opt_str(a, "-t"), td) : nlinv_frames(a, opt_str(a, "-t"), td, kd);
        if (!rc && (td[0] != 3 || td[1] != kd[1] || td[2] != kd[2] || td[3] != 1 || kd[0] != 1))
            rc = usage_error(a, "-t: BART's trajectory (3, X, Y, 1, frames...) of k-space (1, X, Y, coils, ...)",
                             opt_str(a, "-t"));
    }
    if (rc) {
        mv_free(&k);
        mv_free(&pat);
        mv_free(&tr);
        return rc;
    }
    mv_vol_init(&img);
    mv_vol_init(&sens);
    {
        double t0 = now_ms();
        st = tr.data ? mv_nlinv_nc(&tr, &k, &img, a->npos > 2 ? &sens : NULL, &o)
                     : mv_nlinv(&k, &img, a->npos > 2 ? &sens : NULL, &o);
        if (opt_flag(a, "--time"))
            fprintf(stderr, "%s: %.1f ms, %d CG steps, data scale %g\n", cmd, now_ms() - t0, o.cg_iterations_done,
                    o.data_scale_used);
    }
    mv_free(&k);
    mv_free(&pat);
    mv_free(&tr);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    for (ax = 0; ax < 16; ax++) od[ax] = sd[ax] = kd[ax];
    for (ax = 0; ax < 3; ax++) { /* non-Cartesian: the image grid, the coils on twice it (as BART) */
        od[ax] = img.dim[ax];
        if (a->npos > 2) sd[ax] = sens.dim[ax];
    }
    od[3] = 1;
    od[4] = o.uncombined ? (o.maps ? o.maps : 1) : 1;
    sd[4] = o.maps ? o.maps : 1;
    if (o.shared_coils)
        for (ax = 5; ax < 16; ax++) sd[ax] = 1; /* one set of coils */
    if ((rc = cfl_save_dims(a->pos[1], &img, od))) {
        mv_free(&sens);
        return rc;
    }
    return a->npos > 2 ? cfl_save_dims(a->pos[2], &sens, sd) : 0;
}

static int cmd_nlinv(const args *a)
{
    return nlinv_run(a, 0);
}

static int cmd_rtnlinv(const args *a)
{
    return nlinv_run(a, 1);
}

/* ---- cc, ccapply: coil compression ---- */

/* BART's -r S or -R X:Y:Z (its opt_vec3): one size for every axis or three */
static int cc_calsize(const char *s, int64_t out[3])
{
    char buf[64];
    size_t i;
    int n;
    snprintf(buf, sizeof(buf), "%s", s);
    for (i = 0; buf[i]; i++)
        if (buf[i] == ':') buf[i] = ',';
    n = parse_ints(buf, out, 3, 1, 65536);
    if (n == 1) out[1] = out[2] = out[0];
    return n == 1 || n == 3 ? 0 : -1;
}

/* -S / -G / -E (BART's choice of the kind): 0 SVD, 1 geometric, -1 usage error (the exit status in *rc) */
static int cc_kind(const args *a, int *rc)
{
    if (opt_flag(a, "-E")) {
        *rc = usage_error(a, "ESPIRiT-based compression (BART's -E, which bart itself warns has no parameter choice "
                             "rule) is not implemented; -S (SVD) and -G (geometric) are", "-E");
        return -1;
    }
    if (opt_flag(a, "-S") && opt_flag(a, "-G")) {
        *rc = usage_error(a, "one kind: -S (SVD) or -G (geometric)", "-G");
        return -1;
    }
    return opt_flag(a, "-G");
}

/* bart cc -d 3's "Energy:" line of each position (SVD: one) */
static void cc_print_energy(const mv_vol *e)
{
    int64_t x, c, R = e->dim[0], C = e->dim[1];
    for (x = 0; x < R; x++) {
        fprintf(stderr, "Energy:");
        for (c = 0; c < C; c++) fprintf(stderr, " %.6g", ((const float *)e->data)[x + R * c]);
        fprintf(stderr, "\n");
    }
}

/* k through the matrix m (both freed) into OUT, BART's sizes kd with the
   coil axis the output's; --time: the time since t0 on stderr as NAME */
static int cc_apply_save(const args *a, mv_vol *k, mv_vol *m, const mv_cc_opts *o, const int64_t kd[16],
                         const char *out_path, const char *name, double t0)
{
    mv_vol out;
    int64_t od[16];
    int ax;
    mv_status st;
    mv_vol_init(&out);
    st = mv_cc_apply(k, m, &out, o);
    if (opt_flag(a, "--time")) fprintf(stderr, "%s: %.1f ms\n", name, now_ms() - t0);
    mv_free(k);
    mv_free(m);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    for (ax = 0; ax < 16; ax++) od[ax] = kd[ax];
    od[3] = out.dim[3];
    return cfl_save_dims(out_path, &out, od);
}

static int cmd_cc(const args *a)
{
    mv_vol k, m, e;
    mv_cc_opts o = MV_ZERO_INIT;
    int64_t v, kd[16], od[16], P = -1, cs[3];
    int rc = 0, ax, proj = !opt_flag(a, "-M"), dbg = 0;
    double t0;
    mv_status st;
    if ((o.geometric = cc_kind(a, &rc)) < 0) return rc;
    if (opt_int(a, "-p", 0, 65536, &v) < 0) return usage_error(a, "-p takes a virtual coil count", opt_str(a, "-p"));
    if (opt_str(a, "-p")) P = v;
    if (opt_str(a, "-r") || opt_str(a, "-R")) {
        const char *r = opt_str(a, "-r") ? opt_str(a, "-r") : opt_str(a, "-R");
        if (cc_calsize(r, cs) < 0) return usage_error(a, "-r takes a calibration size S or X:Y:Z", r);
        for (ax = 0; ax < 3; ax++) o.calib[ax] = cs[ax];
    }
    if (opt_int(a, "-d", 0, 9, &v) < 0) return usage_error(a, "-d takes a debug level 0 .. 9", opt_str(a, "-d"));
    if (opt_str(a, "-d")) dbg = (int)v;
    o.all_data = opt_flag(a, "-A");
    if (P == -1 && proj) { /* bart cc's own fallback */
        fprintf(stderr, "cc: Use -M to output compression matrix.\n");
        proj = 0;
    }
    if ((rc = cfl_load_folded(a->pos[0], &k, kd))) return rc;
    if (kd[4] != 1) { /* bart cc asserts it */
        mv_free(&k);
        return usage_error(a, "BART's maps axis (4) must be 1 in the k-space", a->pos[0]);
    }
    if (P == 0) P = kd[3];
    if (P > kd[3]) {
        char msg[120];
        snprintf(msg, sizeof(msg), "-p %lld: the k-space has %lld coils", (long long)P, (long long)kd[3]);
        mv_free(&k);
        return usage_error(a, msg, opt_str(a, "-p"));
    }
    mv_vol_init(&m);
    mv_vol_init(&e);
    t0 = now_ms();
    st = mv_cc_calibrate(&k, &m, dbg >= 3 ? &e : NULL, &o);
    if (st == MV_OK && dbg >= 3) cc_print_energy(&e);
    mv_free(&e);
    if (st == MV_OK && proj) {
        o.virtual_coils = P;
        return cc_apply_save(a, &k, &m, &o, kd, a->pos[1], "cc", t0);
    }
    if (opt_flag(a, "--time")) fprintf(stderr, "cc: %.1f ms\n", now_ms() - t0);
    mv_free(&k);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    for (ax = 0; ax < 16; ax++) od[ax] = ax < 5 ? m.dim[ax] : 1;
    return cfl_save_dims(a->pos[1], &m, od);
}

static int cmd_ccapply(const args *a)
{
    mv_vol k, m;
    mv_cc_opts o = MV_ZERO_INIT;
    int64_t v, kd[16], md[16];
    int rc = 0, ax, geo;
    char msg[200];
    const char *at = a->pos[0];
    if ((geo = cc_kind(a, &rc)) < 0) return rc;
    if (opt_int(a, "-p", 1, 65536, &v) < 0) return usage_error(a, "-p takes a virtual coil count", opt_str(a, "-p"));
    if (opt_str(a, "-p")) o.virtual_coils = v;
    o.inverse = opt_flag(a, "-u");
    o.hybrid = opt_flag(a, "-t");
    if ((rc = cfl_load_folded(a->pos[0], &k, kd))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &m, md))) {
        mv_free(&k);
        return rc;
    }
    msg[0] = 0;
    if (kd[4] != 1) snprintf(msg, sizeof(msg), "BART's maps axis (4) must be 1 in the k-space");
    else at = a->pos[1]; /* the messages below are the matrix's */
    for (ax = 1; ax < 16 && !msg[0]; ax++)
        if (ax != 3 && ax != 4 && md[ax] != 1)
            snprintf(msg, sizeof(msg), "the matrix holds %lld samples in BART's axis %d (it is (R, 1, 1, channels, "
                     "virtual coils) as bart cc -M writes it)", (long long)md[ax], ax);
    if (!msg[0] && geo && md[0] == 1)
        snprintf(msg, sizeof(msg), "-G with an SVD matrix (one readout position; bart cc -G -M writes one per sample)");
    if (!msg[0] && !geo && md[0] > 1)
        snprintf(msg, sizeof(msg), "a geometric matrix (%lld readout positions) needs -G", (long long)md[0]);
    if (!msg[0] && o.inverse && o.virtual_coils && o.virtual_coils != kd[3])
        snprintf(msg, sizeof(msg), "-u -p %lld: the k-space holds %lld virtual coils", (long long)o.virtual_coils,
                 (long long)kd[3]);
    if (msg[0]) {
        mv_free(&k);
        mv_free(&m);
        return usage_error(a, msg, at);
    }
    return cc_apply_save(a, &k, &m, &o, kd, a->pos[2], "ccapply", now_ms());
}

/* ---- homodyne: partial Fourier ---- */

static int cmd_homodyne(const args *a)
{
    mv_vol k, ph;
    mv_homodyne_opts o = MV_ZERO_INIT;
    int64_t v, kd[16], pd[16];
    double d, t0;
    int rc;
    mv_status st;
    if (parse_ints(a->pos[0], &v, 1, 0, 15) != 1) return usage_error(a, "DIM takes an axis 0 .. 15", a->pos[0]);
    if (v > 2) return usage_error(a, "DIM: the partial-Fourier axis must be 0, 1 or 2 (the transformed ones)", a->pos[0]);
    o.axis = (int)v;
    if (parse_list(a->pos[1], &d, 1) != 1 || !(d > 0.5 && d <= 1))
        return usage_error(a, "FRACTION takes the acquired part in (0.5, 1]", a->pos[1]);
    o.fraction = d;
    if (opt_num(a, "-r", &d) < 0 || (opt_str(a, "-r") && !(d >= 0 && d <= 1)))
        return usage_error(a, "-r takes the ramp's offset in [0, 1]", opt_str(a, "-r"));
    if (opt_str(a, "-r")) o.alpha = d;
    o.clear = opt_flag(a, "-C");
    o.image_input = opt_flag(a, "-I");
    o.uncentred = opt_flag(a, "-n");
    if ((rc = cfl_load_folded(a->pos[2], &k, kd))) return rc;
    mv_vol_init(&ph);
    if (opt_str(a, "-P")) {
        if ((rc = cfl_load_folded(opt_str(a, "-P"), &ph, pd))) {
            mv_free(&k);
            return rc;
        }
        o.phase = &ph;
    }
    t0 = now_ms();
    st = mv_homodyne_into(&k, &k, &o); /* in place: the loaded data is the output's memory */
    if (opt_flag(a, "--time")) fprintf(stderr, "homodyne: %.1f ms\n", now_ms() - t0);
    mv_free(&ph);
    if (st != MV_OK) {
        mv_free(&k);
        return fail_at(st, a->pos[2]);
    }
    return cfl_save_dims(a->pos[3], &k, kd);
}

/* BART's OPT_VEC3 given as -x or its deprecated -X: S or X:Y:Z into v
   (untouched when absent); 0 or the usage error's exit status */
static int opt_vec3(const args *a, const char *lo, const char *up, int64_t v[3], const char *what)
{
    const char *w = opt_str(a, lo) ? opt_str(a, lo) : opt_str(a, up);
    return w && cc_calsize(w, v) < 0 ? usage_error(a, what, w) : 0;
}

/* k-space to calibrate from: loaded folded (its 16 sizes in kd), BART's
   maps axis 4 of 1 (bart asserts it); 0 or the exit status */
static int load_calib_kspace(const args *a, const char *path, mv_vol *k, int64_t kd[16])
{
    int rc = cfl_load_folded(path, k, kd);
    if (rc) return rc;
    if (kd[4] > 1) {
        mv_free(k);
        return usage_error(a, "BART's maps axis (4) must be 1 in the k-space", path);
    }
    return 0;
}

/* ---- walsh, ecaltwo: Walsh's covariances, ESPIRiT's second part ---- */

static int cmd_walsh(const args *a)
{
    mv_vol k, c;
    int64_t cs[3] = {24, 24, 24}, bs[3] = {20, 20, 20}, bd[16], reg[3];
    int rc;
    mv_status st;
    if ((rc = opt_vec3(a, "-r", "-R", cs, "-r takes a calibration size S or X:Y:Z")) ||
        (rc = opt_vec3(a, "-b", "-B", bs, "-b takes a block size S or X:Y:Z")) || (rc = load_calib_kspace(a, a->pos[0], &k, bd)))
        return rc;
    st = mv_walsh_cov(&k, &c, cs, bs, reg, NULL);
    mv_free(&k);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    printf("Calibration region %lldx%lldx%lld\n", (long long)reg[0], (long long)reg[1], (long long)reg[2]);
    printf("Done.\n");
    return cfl_save_dims(a->pos[1], &c, NULL);
}

static int cmd_ecaltwo(const args *a)
{
    mv_vol c, maps, eig;
    mv_ecalib_opts o = MV_ZERO_INIT;
    int64_t size[3], v, i;
    double d;
    int rc;
    mv_status st;
    for (i = 0; i < 3; i++)
        if (parse_ints(a->pos[i], &size[i], 1, 1, (int64_t)1 << 24) != 1)
            return usage_error(a, "X Y Z: whole numbers >= 1", a->pos[i]);
    if (opt_int(a, "-m", 1, 256, &v) < 0) return usage_error(a, "-m takes a number of maps", opt_str(a, "-m"));
    o.maps = opt_str(a, "-m") ? (int)v : 2; /* bart ecaltwo's default */
    if (opt_num(a, "-c", &d) < 0 || (opt_str(a, "-c") && !(d >= 0 && d <= 1)))
        return usage_error(a, "-c takes a crop value in [0, 1]", opt_str(a, "-c"));
    if (opt_str(a, "-c")) o.crop = d > 0 ? d : -1;
    o.softcrop = opt_flag(a, "-S");
    if (o.softcrop && opt_str(a, "-c") && d >= 1) return usage_error(a, "-S takes a crop value below 1", opt_str(a, "-c"));
    if ((rc = cfl_load_folded(a->pos[3], &c, NULL))) return rc;
    {
        const int64_t E = c.ndim > 3 ? c.dim[3] : 1;
        int64_t nc = 1;
        while (nc * (nc + 1) / 2 < E) nc++;
        if (nc * (nc + 1) / 2 == E) printf("Channels: %lld\n", (long long)nc); /* (bart counts on forever) */
    }
    mv_vol_init(&maps);
    mv_vol_init(&eig);
    st = mv_ecal_maps(&c, size, &maps, a->npos > 5 ? &eig : NULL, &o);
    mv_free(&c);
    if (st != MV_OK) return fail_at(st, a->pos[3]);
    printf("Done.\n");
    if ((rc = cfl_save_dims(a->pos[4], &maps, NULL))) {
        mv_free(&eig);
        return rc;
    }
    return a->npos > 5 ? save_eigenvalues(a->pos[5], &eig) : 0;
}

/* ---- calmat, svd: the calibration matrix and its SVD ---- */

static int cmd_calmat(const args *a)
{
    mv_vol k, o;
    int64_t cs[3] = {24, 24, 24}, ks[3] = {5, 5, 5}, kd[16], st[3], sz[3], od[16], P, Q, nc, i, p, q;
    int rc, ax;
    mv_status s;
    if ((rc = opt_vec3(a, "-r", "-R", cs, "-r takes a calibration size S or X:Y:Z")) ||
        (rc = opt_vec3(a, "-k", "-K", ks, "-k takes a kernel size S or X:Y:Z")) || (rc = load_calib_kspace(a, a->pos[0], &k, kd)))
        return rc;
    if (opt_flag(a, "-C")) /* bart's -C: the centred box, sampled or not (md_resize_center) */
        for (ax = 0; ax < 3; ax++) sz[ax] = cs[ax] < kd[ax] ? cs[ax] : kd[ax], st[ax] = kd[ax] / 2 - sz[ax] / 2;
    else if ((s = mv_calib_region(&k, cs, st, sz)) != MV_OK) {
        mv_free(&k);
        return fail_at(s, a->pos[0]);
    }
    for (ax = 0; ax < 3; ax++) {
        if (kd[ax] == 1) ks[ax] = 1;
        if (ks[ax] > sz[ax]) { /* bart asserts (casorati_dims) */
            mv_free(&k);
            return usage_error(a, "the kernel is larger than the calibration region", opt_str(a, "-k") ? opt_str(a, "-k") : "5");
        }
    }
    nc = kd[3];
    P = (sz[0] - ks[0] + 1) * (sz[1] - ks[1] + 1) * (sz[2] - ks[2] + 1);
    Q = ks[0] * ks[1] * ks[2] * nc;
    {
        int64_t dd[2];
        dd[0] = P, dd[1] = Q;
        mv_vol_init(&o);
        if ((s = mv_vol_alloc(&o, MV_DT_C64, 2, dd, NULL)) != MV_OK) {
            mv_free(&k);
            return fail_at(s, a->pos[1]);
        }
    }
    /* row p: the block's position (x fastest); column q: its samples (x, y, z, then coils) of the first volume */
    for (q = 0; q < Q; q++) {
        const int64_t qx = q % ks[0], qy = q / ks[0] % ks[1], qz = q / (ks[0] * ks[1]) % ks[2], c = q / (ks[0] * ks[1] * ks[2]);
        for (p = 0; p < P; p++) {
            const int64_t px = p % (sz[0] - ks[0] + 1), py = p / (sz[0] - ks[0] + 1) % (sz[1] - ks[1] + 1);
            const int64_t pz = p / ((sz[0] - ks[0] + 1) * (sz[1] - ks[1] + 1));
            const int64_t x = st[0] + px + qx, y = st[1] + py + qy, z = st[2] + pz + qz;
            const float *e = (const float *)k.data + 2 * (x + kd[0] * (y + kd[1] * (z + kd[2] * c)));
            float *d = (float *)o.data + 2 * (p + P * q);
            d[0] = e[0], d[1] = e[1];
        }
    }
    mv_free(&k);
    for (i = 0; i < 16; i++) od[i] = 1;
    od[0] = P, od[1] = Q;
    return cfl_save_dims(a->pos[1], &o, od);
}

/* estvar [-k K] [-r R] KSPACE (bart estvar): prints bart's line */
static int cmd_estvar(const args *a)
{
    mv_vol k;
    int64_t cs[3] = {24, 24, 24}, ks[3] = {6, 6, 6}, kd[16];
    double var = 0;
    int rc;
    mv_status st;
    if ((rc = opt_vec3(a, "-r", "-R", cs, "-r takes a calibration size S or X:Y:Z")) ||
        (rc = opt_vec3(a, "-k", "-K", ks, "-k takes a kernel size S or X:Y:Z")) || (rc = load_calib_kspace(a, a->pos[0], &k, kd)))
        return rc;
    st = mv_estvar(&k, cs, ks, NULL, &var, NULL);
    mv_free(&k);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    printf("Estimated noise variance: %f\n", (float)var);
    return 0;
}

static int cmd_svd(const args *a)
{
    mv_vol x, u, s, vh, sc;
    int64_t xd[16], i;
    int rc;
    mv_status st;
    if ((rc = cfl_load_folded(a->pos[0], &x, xd))) return rc;
    for (i = 2; i < 16; i++)
        if (xd[i] > 1) {
            mv_free(&x);
            return usage_error(a, "IN must be a matrix (axes 2..15 of size 1)", a->pos[0]);
        }
    st = mv_svd(&x, &u, &s, &vh, opt_flag(a, "-e"), NULL);
    mv_free(&x);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    st = mv_convert(&s, &sc, MV_DT_C64, NULL); /* BART writes S complex, (K, 1) */
    mv_free(&s);
    if (st != MV_OK) {
        mv_free(&u), mv_free(&vh);
        return fail_at(st, a->pos[2]);
    }
    if ((rc = cfl_save_dims(a->pos[1], &u, NULL))) {
        mv_free(&sc), mv_free(&vh);
        return rc;
    }
    if ((rc = cfl_save_dims(a->pos[2], &sc, NULL))) {
        mv_free(&vh);
        return rc;
    }
    return cfl_save_dims(a->pos[3], &vh, NULL);
}

const command mvtool_recon_commands[] = {
    {"caldir", "coil sensitivities by the direct method (BART caldir)",
     "mvtool caldir CAL_SIZE KSPACE SENS\n"
     "  bart caldir: the fully sampled centre (at most CAL_SIZE per axis, below the readout), Kaiser-tapered,\n"
     "  as low-resolution coil images over their root sum of squares (one volume, one map)\n",
     "", 3, 3, cmd_caldir},
    {"walsh", "coil covariances by Walsh's method, for ecaltwo (BART walsh)",
     "mvtool walsh [-r S|X:Y:Z] [-b S|X:Y:Z] KSPACE COV\n"
     "  bart walsh: the calibration box (at most -r 24 per axis) as low-resolution coil images,\n"
     "  and per voxel the C x C Gram matrix of those images over a block of -b 20 voxels per\n"
     "  axis (BART's block placement at the edges), packed as BART: COV (x, y, z, C (C + 1) / 2).\n"
     "  Maps from it: mvtool ecaltwo X Y Z COV MAPS. One volume.\n",
     "-r= -R= -b= -B=", 2, 2, cmd_walsh},
    {"ecaltwo", "ESPIRiT's second part: maps from Gram matrices (BART ecaltwo)",
     "mvtool ecaltwo [-c CROP] [-m MAPS] [-S] X Y Z COV MAPS [EIG]\n"
     "  bart ecaltwo: COV (from mvtool/bart ecalib -1 or walsh) zero-filled in Fourier space to\n"
     "  X x Y x Z (each at least COV's), then per voxel the -m 2 leading eigenvectors (BART's\n"
     "  orthogonal iteration), cropped where the eigenvalue is below -c 0.8 (-c 0: no crop;\n"
     "  -S: BART's soft crop), each map's first coil made real (BART's fixphase). MAPS\n"
     "  (X, Y, Z, coils, maps); EIG the eigenvalues (X, Y, Z, 1, maps).\n",
     "-c= -m= -S", 5, 6, cmd_ecaltwo},
    {"estvar", "the noise variance of k-space (bart estvar)",
     "mvtool estvar [-k K] [-r R] KSPACE\n"
     "  bart estvar (mv_estvar): the calibration matrix's smallest quarter of singular values\n"
     "  against those of BART's simulated noise (its generator, seed 123); -k kernel (6),\n"
     "  -r calibration size (24), S or X:Y:Z. Prints bart's line.\n",
     "-k= -K= -r= -R=", 1, 1, cmd_estvar},
    {"calmat", "the calibration matrix of k-space (BART calmat)",
     "mvtool calmat [-k S|X:Y:Z] [-r S|X:Y:Z] [-C] KSPACE OUT\n"
     "  bart calmat: OUT (positions, kernel samples x coils): every -k 5 block of the calibration\n"
     "  region (BART's extract_calib box, at most -r 24 per axis; -C the centred box as it is) of\n"
     "  the first volume, a row per position (x fastest), its samples then coils as columns.\n",
     "-k= -K= -r= -R= -C", 2, 2, cmd_calmat},
    {"svd", "singular value decomposition of a matrix (BART svd)",
     "mvtool svd [-e] IN U S VH\n"
     "  bart svd: IN (M, N) = U diag(S) VH, S (min(M, N), 1) descending (complex, as BART writes it);\n"
     "  U (M, M) and VH (N, N), or with -e U (M, K) and VH (K, N). Each singular pair is bart's up\n"
     "  to a common phase (LAPACK's cgesdd chooses bart's; medvol's Jacobi rotations its own).\n",
     "-e", 4, 4, cmd_svd},
    {"ecalib", "ESPIRiT coil sensitivity maps (BART ecalib)",
     "mvtool ecalib [-m 1|2] [-r CAL] [-k KERNEL] [-t THR] [-c CROP] [-S] [-P] [-I] [-W] [-a] [-v VAR] [-d LEVEL] [-1]\n"
     "              [--iter N] KSPACE MAPS [EIG]\n"
     "  ESPIRiT maps (x, y, z, coils, maps) of multi-coil k-space with a fully\n"
     "  sampled centre, BART ecalib's defaults: -r 24 -k 6 -t 0.001 -c 0.8 -m 2\n"
     "  (-c 0: no crop; -m 1: one map; -r and -k: S or X:Y:Z; -S: BART's soft\n"
     "  crop; -P: the first coil's phase removed, not the principal component's;\n"
     "  -I: BART's intensity correction). -W: BART's soft-weighted kernels (each\n"
     "  of singular value s > lambda weighted by 1 - lambda / s, lambda of least\n"
     "  SURE; -t unused; exact eigenvectors per voxel); -a: -W and the crop\n"
     "  chosen by SURE (printed on stderr, as bart's \"Calculated c\"; -c unused;\n"
     "  -d 2 and above: bart's table of the crops tried and their risk);\n"
     "  -v VAR: the noise variance they take (default: estimated as mvtool\n"
     "  estvar). EIG: the eigenvalue maps (x, y, z, 1,\n"
     "  maps as BART). -1: the first part only, as bart ecalib -1: MAPS the Gram\n"
     "  matrices on BART's grid (2k per axis, C (C + 1) / 2), for mvtool ecaltwo.\n"
     "  K-space frames beyond the coils (BART's axes 5..15, TIME_DIM 10\n"
     "  too; folded on load) calibrate from the first, as bart ecalib; BART's maps\n"
     "  axis 4 must be 1 (bart asserts it).\n"
     "  --iter N: power iterations per voxel at most (BART's fixed 30; voxels\n"
     "  whose two largest eigenvalues are close need more to converge).\n"
     "  Files are BART .cfl/.hdr.\n"
     "  --time: the library call's time on stderr.\n",
     "-m= -r= -k= -t= -c= -S -P -I -W -a -v= -d= -1 --iter= --time", 2, 3, cmd_ecalib},
    {"cc", "coil compression to virtual coils, SVD or geometric (BART cc)",
     "mvtool cc [-p N] [-M] [-r S | -r X:Y:Z] [-A] [-S | -G] [-d LEVEL] KSPACE OUT\n"
     "  As bart cc: the principal components of the calibration box's coils\n"
     "  (BART's box: fully sampled, at most -r 24 per axis; -A every sample of\n"
     "  the first volume). -S (default) one matrix; -G geometric (Zhang 2013),\n"
     "  one per readout position of the data transformed along the readout,\n"
     "  aligned along it. -p N: OUT the k-space in N virtual coils (-p 0: all);\n"
     "  -M (or no -p): OUT the matrix (R, 1, 1, coils, coils), R = 1 (-S) or the\n"
     "  readout (-G), for ccapply. Each virtual coil is bart's or its negative\n"
     "  (an eigenvector's sign is its solver's). -E (ESPIRiT-based) is refused.\n"
     "  -d 3 (medvol's; bart prints it at DEBUG_LEVEL=3): each position's\n"
     "  eigenvalues as parts of their sum on stderr.\n"
     "  Volumes after the coils are compressed with the first one's matrix.\n"
     "  Files are BART .cfl/.hdr. --time: the library calls' time on stderr.\n",
     "-p= -M -r= -R= -A -S -G -E -d= --time", 2, 2, cmd_cc},
    {"ccapply", "apply a coil compression matrix, or undo it (BART ccapply)",
     "mvtool ccapply [-p N] [-u] [-t] [-S | -G] KSPACE MATRIX OUT\n"
     "  As bart ccapply: KSPACE into its first N virtual coils of MATRIX (bart cc\n"
     "  -M's), or with -u back from its virtual coils to the channels. -G: a\n"
     "  geometric matrix, its positions aligned along the readout as bart's,\n"
     "  the data transformed along the readout and back (-t: KSPACE is already\n"
     "  in image space along the readout; OUT stays there). --time: the\n"
     "  library call's time on stderr.\n",
     "-p= -u -t -S -G -E --time", 3, 3, cmd_ccapply},
    {"homodyne", "homodyne partial-Fourier reconstruction (BART homodyne)",
     "mvtool homodyne [-r ALPHA] [-I] [-C] [-P PHASE] [-n] DIM FRACTION IN OUT\n"
     "  As bart homodyne: k-space acquired along DIM (0, 1 or 2) over its first\n"
     "  FRACTION (0.5 .. 1) of samples becomes the real image of the acquired\n"
     "  part weighted by BART's homodyne filter (2, then a ramp from 2 - ALPHA\n"
     "  down to ALPHA, -r default 0; the unacquired part 1, or 0 with -C) and\n"
     "  demodulated by the phase of the symmetric centre (or -P PHASE's, as\n"
     "  given). BART's centred unitary FFTs over x, y, z (-n: uncentred); -I:\n"
     "  IN holds images. Every coil and frame on its own; OUT complex, its\n"
     "  imaginary parts 0, IN's 16 sizes. Files are BART .cfl/.hdr. --time:\n"
     "  the library call's time on stderr.\n",
     "-r= -I -C -P= -n --time", 4, 4, cmd_homodyne},
    {"pics", "SENSE reconstruction, l2 (CG), l1-wavelet (FISTA), TV and sums of terms (ADMM), Cartesian or non-Cartesian (BART pics)",
     "mvtool pics -l2|-l1|-R W:7:0:L|-R T:7:0:L|-R Q:L|-R I:0:L|-R S|-R L:7:7:L... [-m] [-r LAMBDA] [-i ITER] [-S] [-w SCALE] [-t TRAJ] [-p PATTERN] [-I] [-c] [-f RFOV] [-W IMG] [-B BASIS] [-d LEVEL] [-n] [-s STEP] [-e] [-b BLK] [--wavelet W] [--tol T] [--chunk N] [--joint] KSPACE MAPS OUT\n"
     "  Tikhonov-regularised SENSE by conjugate gradients on (A^H A + LAMBDA I) x\n"
     "  = A^H y, as BART pics -l2: A = pattern * FFT * maps, or with -t TRAJ\n"
     "  (BART's trajectory, k-space (1, X, Y, C, frames...)) A = NUFFT * maps with\n"
     "  A^H A by the Toeplitz embedding. The data is divided by BART's scale\n"
     "  estimate (or -w SCALE) and -S scales the image back. Frames (k-space dims\n"
     "  after the coils, BART's TIME_DIM 10 and every axis up to 15 included) are\n"
     "  reconstructed one by one with the same maps and plans; --joint (and -R L)\n"
     "  solves them as one image, as BART does: the same minimiser, BART's iterates.\n"
     "  Axes beyond medvol's 7 are folded on load and OUT gets BART's 16 sizes; a\n"
     "  TRAJ shared along some of BART's axes 6..15 and not others is refused.\n"
     "  MAPS (x, y, z, coils, M) with M ESPIRiT maps (mvtool or bart ecalib's\n"
     "  default two) give OUT (x, y, z, 1, M, frames...), as BART.\n"
     "  -p PATTERN: BART's pattern or weights P (each axis 1 or the k-space's;\n"
     "  coils 1): the data term weighted by |P|^2 per sample, as BART 0.9 on\n"
     "  (BART 0.8's Cartesian pics weighted by P: the same for 0/1 patterns);\n"
     "  Cartesian, it replaces the mask of nonzero samples and BART's scale is\n"
     "  estimated on the data times P; with -t, density compensation as BART's\n"
     "  scripts/radial_dcf.sh (P = density^-1/2).\n"
     "  -I: BART's IST in place of its FISTA (one l1-type term). -c: a real\n"
     "  image (BART's real-value constraint). -f RFOV: the maps outside the\n"
     "  centred box of RFOV of each axis set to 0, as BART. -W IMG: the solve\n"
     "  starts from IMG (BART's warm start, ADMM's terms from it too; with -S\n"
     "  divided by the data scale, as BART's). -B BASIS: BART's subspace\n"
     "  (1, 1, 1, 1, 1, T, K): frames in the TE axis 5 are sum_k BASIS[t, k]\n"
     "  x_k, OUT the K coefficient images. -d LEVEL: 5 and\n"
     "  up, each iteration's residual on stderr. -g / -G N and -U / --lowmem\n"
     "  are accepted and noted (the CPU; one NUFFT mode).\n"
     "  --chunk N: stream the frames from KSPACE.cfl to OUT.cfl, N at a time in\n"
     "  memory. --tol T: stop at ||r|| <= T ||A^H y||. --nufft-tol T (default\n"
     "  1e-4). --time: the library call's time on stderr.\n"
     "  -l1 (or -R W:FLAGS:0:LAMBDA, FLAGS the axes transformed): l1-wavelet\n"
     "  compressed sensing, min 1/2 ||A x - y||^2 + LAMBDA ||W x||_1 by BART's FISTA\n"
     "  (step -s, default 0.95; -e divides it by BART's estimate of the largest\n"
     "  eigenvalue of A^H A, as non-Cartesian data needs) with BART's wavelet\n"
     "  (--wavelet dau2 (default), haar, cdf44) and its random cycle spinning (-n:\n"
     "  none). -R Q:LAMBDA = -l2.\n"
     "  -R T:FLAGS:0:LAMBDA: isotropic total variation over the FLAGS axes (x, y, z,\n"
     "  and the frames' axis: 1024 for BART's TIME_DIM; the series solved at once) by BART's\n"
     "  ADMM (rho -u, default 0.5; at most -C CG steps per x-update, default 10;\n"
     "  -i counts CG steps in all, as BART's).\n"
     "  -R G:FLAGS:0:L: bart tgv's TGV, -R C:FLAGS:0:L: bart ictv's ICTV (TV_1 over\n"
     "  FLAGS's x, y, z, TV_2 over its frame axis), by ADMM after the other terms.\n"
     "  -R I:0:LAMBDA: LAMBDA ||x||_1 (complex soft threshold; I:16: jointly over\n"
     "  the ESPIRiT maps of a voxel); -R S: real and\n"
     "  imaginary parts >= 0; alone by BART's FISTA (-s, -e as -l1).\n"
     "  -R L:XFLAGS:JFLAGS:LAMBDA: locally low rank, BART's: blocks of -b samples\n"
     "  (default 8) along the JFLAGS axes, whole along the others, each a matrix\n"
     "  of its XFLAGS samples x the frames (k-space dims after the coils), singular\n"
     "  values soft thresholded, random block shifts (-n: none); the frames are\n"
     "  solved together (all in memory, --chunk or not). Alone by FISTA.\n"
     "  Several terms (one of each kind: l2, l1-wavelet, l1, TV, S, L), as\n"
     "  -R W:7:0:0.005 -R T:7:0:0.002, are solved together by BART's ADMM, as is\n"
     "  one term with -m; -l1 / -l2 take the -r before them (or the last -r), as\n"
     "  BART's.\n",
     "-l2 -l1 -R= -r= -i= -S -w= -t= -p= -I -c -f= -W= -B= -d= -g -G= -U --lowmem -n -s= -e -m -u= -C= -b= --wavelet= --tol= --nufft-tol= --chunk= --joint --time", 3, 3, cmd_pics},
    {"nlinv", "image and coil sensitivities together by nonlinear inversion (BART nlinv, ENLIVE)",
     "mvtool nlinv [-i ITER] [-R REDU] [-M MIN] [-a A] [-b B] [-m MAPS] [-U] [-c] [-N] [-S] [-w SCALE] [-p PATTERN] [-f FOV] [-t TRAJ] [-d LEVEL] KSPACE OUT [SENS]\n"
     "  BART nlinv 0.8 on Cartesian k-space (x, y, z, coils, frames...): the image\n"
     "  and the coils estimated together by the iteratively regularised\n"
     "  Gauss-Newton method (Uecker 2008), no calibration step: -i Newton steps\n"
     "  (8), the regularisation from 1 divided by -R (2) each step down to -M\n"
     "  (0), the coils' Sobolev weight (1 + A |k|^2)^(-B/2) (-a 220 -b 32), -m\n"
     "  MAPS sets of images and coils (ENLIVE; -U keeps one image per map), -c a\n"
     "  real image, -N the image without the coils' RSS, -S the image divided by\n"
     "  the data scale (100 / ||y||, or -w SCALE's), -p PATTERN in place of the\n"
     "  nonzero samples, -f FOV the image in a centred box of that part of each\n"
     "  axis. OUT (x, y, z, 1, 1 or MAPS, frames...) and SENS (x, y, z, coils,\n"
     "  MAPS, frames...) as BART writes them; a series is one problem, as\n"
     "  BART's. -t TRAJ: non-Cartesian k-space (1, X, Y, coils, frames...) on\n"
     "  BART's trajectory (one, or one per frame), gridded onto twice the image\n"
     "  grid (2 ceil(max |k|) per axis, or -x X:Y:Z as BART 0.9's) as BART's,\n"
     "  -f 0.5 by default; SENS on the doubled grid. -s FLAGS: one set of coils for every frame (FLAGS the\n"
     "  k-space's frame axes, 1024 for TIME_DIM; SENS without them). -d 4 and\n"
     "  up: each step's residual on stderr. -g and --lowmem are accepted and\n"
     "  noted; -I, -P and SMS data (BART's axis 13) are refused by name. -n: the\n"
     "  k-space is data gridded on a doubled grid and -p its PSF (the adjoint\n"
     "  without it, -f 0.5, the image the centred half). Files are BART .cfl/.hdr. --time: the library\n"
     "  call's time on stderr. --cg-iter N (100), --cg-tol T (0.1): the inner CG's\n"
     "  most steps and BART's legacy stop ||r|| <= (T ||b||)^2 (1e-30: none).\n"
     "  --nufft-tol T: -t's gridding accuracy (1e-6).\n",
     "-i= -R= -M= -a= -b= -m= -U -c -N -S -w= -p= -d= -g --lowmem -t= -x= -f= -I= -s= -P -n --cg-iter= --cg-tol= --nufft-tol= --time", 2, 3, cmd_nlinv},
    {"rtnlinv", "real-time NLINV: a series frame by frame, each from the last (BART rtnlinv)",
     "mvtool rtnlinv [-i ITER] [-R REDU] [-M MIN] [-a A] [-b B] [-m MAPS] [-U] [-c] [-N] [-S] [-w SCALE] [-T DAMP] [-f FOV] (-p PSF | -t TRAJ [-x X:Y:Z]) [-d LEVEL] KSPACE OUT [SENS]\n"
     "  BART rtnlinv 0.8 (Uecker, Zhang, Frahm 2010): the frames along BART's\n"
     "  axis 10, one after another, each an NLINV (see nlinv's options) from\n"
     "  the last frame's image and coils and regularised towards them times\n"
     "  -T (0.9; 0: no reference); the data scale is the first frame's (100 /\n"
     "  ||y||, or -w). -t TRAJ: radial or other k-space (1, X, Y, coils, 1, ...,\n"
     "  frames), the trajectory's turns along axis 10 (frame f on turn f mod\n"
     "  T), gridded frame by frame onto rtnlinv's grid (the square 2,3,5,7-\n"
     "  smooth size from 4 max |k|, or -x X:Y:Z, even), the image half of it.\n"
     "  -p PSF: the k-space is gridded data and PSF its point spread function,\n"
     "  turns along axis 10 (nlinv -n's model: the image the centred half).\n"
     "  -f (0.5) restricts the FOV. OUT (x, y, z, 1, MAPS, ..., frames: each\n"
     "  map's image, -U or not, as BART 0.8's) and SENS (grid, coils, MAPS, ...,\n"
     "  frames) as BART writes them.\n"
     "  -g is accepted and noted; -I, -C, -A and -s (SMS) are refused by name.\n"
     "  -d 4 and up: each step's residual (steps counted over the frames).\n"
     "  --time, --cg-iter, --cg-tol and --nufft-tol as nlinv's.\n",
     "-i= -R= -M= -a= -b= -m= -U -c -N -S -w= -T= -p= -d= -g -t= -x= -f= -I= -C= -A -s --cg-iter= --cg-tol= --nufft-tol= --time",
     2, 3, cmd_rtnlinv},
    {"threshold", "soft, wavelet, hard or binary thresholding of a .cfl (BART threshold)",
     "mvtool threshold [-W|-H|-B] [-j BITMASK] LAMBDA IN OUT\n"
     "  As bart threshold: complex soft thresholding x max(|x| - LAMBDA, 0) / |x|\n"
     "  (-j: |x| the norm over the dims of BITMASK, jointly), -W in BART's wavelet\n"
     "  domain (Daubechies 2 over x, y, z where they have 16 samples or more),\n"
     "  -H hard (x where |x| > LAMBDA), -B binary (1 where |x| > LAMBDA).\n"
     "  All 16 of BART's axes (those beyond medvol's 7 folded on load; -j bits on\n"
     "  any of them, 1024: TIME_DIM); OUT has IN's sizes.\n",
     "-W -H -B -j=", 3, 3, cmd_threshold},
    {"wavelet", "BART's wavelet transform and its adjoint (BART wavelet)",
     "mvtool wavelet [-a] [-H|-D|-C] BITMASK [SIZE ...] IN OUT\n"
     "  As bart wavelet: the multi-level wavelet transform along the axes of\n"
     "  BITMASK (BART's 0, 1, 2: bits 1, 2, 4) of each volume of IN, Daubechies 2\n"
     "  (-D, the default), Haar (-H) or CDF 9/7 (-C, BART's cdf44), levels down to\n"
     "  a band of 16, half-sample symmetric edges; OUT holds the coefficients\n"
     "  along the first axis of BITMASK (the others 1) in BART's order. -a (or\n"
     "  sizes given): the adjoint, which is the inverse: IN the coefficients, one\n"
     "  image SIZE per bit of BITMASK. A transformed axis needs 16 samples or more\n"
     "  (bart asserts); one of 1 is left alone. BITMASK 0 copies.\n",
     "-a -H -D -C", 3, 6, cmd_wavelet},
    {"cdf97", "the CDF 9/7 wavelet by lifting, in place (BART cdf97)",
     "mvtool cdf97 [-i] BITMASK IN OUT\n"
     "  As bart cdf97: the CDF 9/7 wavelet (four lifting steps) along the axes of\n"
     "  BITMASK (BART's 0 .. 5), OUT of IN's sizes: per level the even samples\n"
     "  first (coarse, then detail), the coarse box again while every transformed\n"
     "  axis has more than 32 samples; even lengths wrap around, odd ones mirror.\n"
     "  -i: the inverse. Within float rounding of bart's (which transforms, inverts\n"
     "  and transforms again).\n",
     "-i", 3, 3, cmd_cdf97},
    {"bin", "label, reorder and quadrature (self-gating) binning (BART bin)",
     "mvtool bin [-l DIM | -o | -R N -C N [-r X:Y] [-c X:Y] [-a W] [-A W] [-O R:C] [-M]] LABEL SRC DST\n"
     "  As bart bin. -l DIM: SRC's slices along LABEL's axis (LABEL holds its\n"
     "  labels, whole numbers >= 0, along one axis) gathered by label: DST holds a\n"
     "  slice per label along that axis and the slices of each label along DIM\n"
     "  (where SRC holds one sample), zeros after the last. -o: DST's slice i is\n"
     "  SRC's slice LABEL[i]. -R N -C N: quadrature binning of self-gated motion\n"
     "  (SSA-FARY, mv_quadrature_bins): LABEL holds EOFs (bart ssa's) along\n"
     "  BART's axis 11, their samples along axis 10; the respiratory pair -r\n"
     "  (default 0:1) and the cardiac pair -c (2:3) each give a bin of N by their\n"
     "  angle (-O offsets in degrees; -M: respiration by amplitude; -a / -A: a\n"
     "  moving average of W samples removed first); SRC's samples along axis 10\n"
     "  go to DST's cardiac bin (axis 10), respiratory bin (axis 11), and the\n"
     "  bin's next place along axis 2.\n",
     "-l= -o -R= -C= -r= -c= -a= -A= -O= -M", 3, 3, cmd_bin},
    {"rmfreq", "remove angle-dependent frequencies of a radial series (BART rmfreq)",
     "mvtool rmfreq [-N HARMONICS] [-M MOD] TRAJ K K_COR\n"
     "  As bart rmfreq: each coil's and partition's series K (samples along BART's\n"
     "  axis 10, coils 3, partitions 13; e.g. the spokes' DC samples) minus its\n"
     "  least-squares fit by e^{+-i h theta}, h = 1 .. HARMONICS (default 5),\n"
     "  theta = pi + atan2(k_x, k_y) of each spoke's first TRAJ sample; -M: the\n"
     "  harmonics times a contrast modulation of K's sizes. Solved in float64.\n",
     "-N= -M=", 3, 3, cmd_rmfreq},
    {"ssa", "singular spectrum analysis, SSA-FARY's EOFs for self-gating (BART ssa)",
     "mvtool ssa -w W [-z] [-m 0|1] [-n 0|1] [-r R] [-g G] SRC EOF [S] [BACKPROJECTION]\n"
     "  As bart ssa (mv_ssa): SRC's samples (axis 0) of its coordinates (axis 1, e.g. each coil's DC\n"
     "  sample per spoke, after rmfreq), each minus its mean (-m 0: kept), over its standard deviation\n"
     "  (-n 1), zero-padded by W - 1 (-z: not); the SVD of its trajectory matrix of window W: EOF the\n"
     "  empirical orthogonal functions (columns; each unique up to a phase, bart's is LAPACK's), S the\n"
     "  singular values; BACKPROJECTION (unpadded) from the first R EOFs (-r R; -r -R: all but those) or\n"
     "  the EOFs of bitmask G (-g; negative: all but those), each sample its anti-diagonal's mean.\n"
     "  The EOFs feed bin -R -C.\n",
     "-w= -z -m= -n= -r= -g=", 2, 4, cmd_ssa},
    {"grappa", "GRAPPA reconstruction of undersampled k-space (+ g-factor)",
     "mvtool grappa KSPACE OUT [--acs N] [--kernel 5x4] [--accel R] [--lambda L] [--3d] [--gfactor G]\n"
     "  Fills the missing phase-encode lines of Cartesian undersampled k-space\n"
     "  (x, y, z, coils, ...) from a fully sampled centre (ACS, detected; --acs\n"
     "  caps it), kernel readout x lines (default 5x4; 5x4x4 with --3d, where z\n"
     "  is a k-space axis). --gfactor G writes the g-factor map. --time: stage times.\n"
     "  Volumes after the coils (BART's axes 4..15, folded on load) each use the\n"
     "  first one's calibration; OUT has KSPACE's 16 sizes.\n",
     "--acs= --kernel= --accel= --lambda= --3d --gfactor= --time", 2, 2, cmd_grappa},
};
const int mvtool_recon_ncommands = (int)(sizeof(mvtool_recon_commands) / sizeof(mvtool_recon_commands[0]));
