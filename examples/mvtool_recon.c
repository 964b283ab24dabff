/* mvtool recon family: BART-compatible parallel-imaging commands on .cfl
   files (ecalib, pics -l2) and the GRAPPA command BART lacks.

     mvtool ecalib [-m 1|2] [-r CAL] [-k KERNEL] [-t THR] [-c CROP] KSPACE MAPS [EIG]
     mvtool pics -l2 [-r LAMBDA] [-i ITER] [-S] [-w SCALE] [-t TRAJ] KSPACE MAPS OUT
     mvtool grappa KSPACE OUT [--acs N] [--kernel 5x4] [--accel R] [--lambda L] [--gfactor G]

   BART's flags and argument order; files are BART .cfl/.hdr pairs (NAME,
   NAME.cfl or NAME.hdr). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cfl_load_or_fail(const char *path, mv_vol *v)
{
    mv_status st;
    mv_vol_init(v);
    st = mv_cfl_load(path, v, NULL);
    return st == MV_OK ? 0 : fail_at(st, path);
}

static int cfl_save_or_fail(const char *path, mv_vol *v)
{
    mv_status st = mv_cfl_save(path, v, NULL);
    mv_free(v);
    return st == MV_OK ? 0 : fail_at(st, path);
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

static int cmd_ecalib(const args *a)
{
    mv_vol k, maps, eig;
    mv_ecalib_opts o = MV_ZERO_INIT;
    int64_t v;
    double d;
    int rc, i;
    if (opt_int(a, "-m", 1, 2, &v) < 0) return usage_error(a, "-m takes 1 or 2", opt_str(a, "-m"));
    if (opt_str(a, "-m")) o.maps = (int)v;
    if (opt_int(a, "-r", 1, 4096, &v) < 0) return usage_error(a, "-r takes a calibration size", opt_str(a, "-r"));
    if (opt_str(a, "-r"))
        for (i = 0; i < 3; i++) o.calib[i] = (int)v;
    if (opt_int(a, "-k", 1, 64, &v) < 0) return usage_error(a, "-k takes a kernel size", opt_str(a, "-k"));
    if (opt_str(a, "-k"))
        for (i = 0; i < 3; i++) o.kernel[i] = (int)v;
    if (opt_num(a, "-t", &d) < 0 || (opt_str(a, "-t") && !(d > 0 && d < 1)))
        return usage_error(a, "-t takes a threshold in (0, 1)", opt_str(a, "-t"));
    if (opt_str(a, "-t")) o.threshold = d;
    if (opt_num(a, "-c", &d) < 0 || (opt_str(a, "-c") && !(d >= 0 && d <= 1)))
        return usage_error(a, "-c takes a crop value in [0, 1]", opt_str(a, "-c"));
    if (opt_str(a, "-c")) o.crop = d > 0 ? d : -1;
    if ((rc = cfl_load_or_fail(a->pos[0], &k))) return rc;
    mv_vol_init(&maps);
    mv_vol_init(&eig);
    {
        double t0 = now_ms();
        mv_status st = mv_ecalib(&k, &maps, a->npos > 2 ? &eig : NULL, &o);
        if (opt_flag(a, "--time")) fprintf(stderr, "ecalib: %.1f ms\n", now_ms() - t0);
        mv_free(&k);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
    }
    if ((rc = cfl_save_or_fail(a->pos[1], &maps))) {
        mv_free(&eig);
        return rc;
    }
    if (a->npos > 2) {
        mv_vol c;
        /* eigenvalues as complex, as BART writes them */
        mv_status st = mv_convert(&eig, &c, MV_DT_C64, NULL);
        mv_free(&eig);
        if (st != MV_OK) return fail_at(st, a->pos[2]);
        return cfl_save_or_fail(a->pos[2], &c);
    }
    return 0;
}

static int cmd_pics(const args *a)
{
    mv_vol k, s, out;
    mv_cg_opts o = MV_ZERO_INIT;
    double d, scale = 0;
    int64_t v;
    int rc;
    mv_status st;
    if (!opt_flag(a, "-l2")) return usage_error(a, "only -l2 (Tikhonov, CG) is implemented", opt_flag(a, "-l1") ? "-l1" : "(no -l2)");
    if (opt_str(a, "-t"))
        return usage_error(a, "non-Cartesian pics (-t TRAJ) is not wired yet on this build: use mv_cg_solve with a Toeplitz normal operator", opt_str(a, "-t"));
    if (opt_num(a, "-r", &d) < 0 || (opt_str(a, "-r") && !(d >= 0))) return usage_error(a, "-r takes lambda >= 0", opt_str(a, "-r"));
    if (opt_str(a, "-r")) o.lambda = d;
    if (opt_int(a, "-i", 1, 100000, &v) < 0) return usage_error(a, "-i takes an iteration count", opt_str(a, "-i"));
    o.iterations = opt_str(a, "-i") ? (int)v : 30;
    if (opt_num(a, "-w", &d) < 0 || (opt_str(a, "-w") && !(d > 0))) return usage_error(a, "-w takes a scale > 0", opt_str(a, "-w"));
    if (opt_str(a, "-w")) scale = d;
    if (opt_num(a, "--tol", &d) < 0 || (opt_str(a, "--tol") && !(d >= 0))) return usage_error(a, "--tol takes a value >= 0", opt_str(a, "--tol"));
    if (opt_str(a, "--tol")) o.tolerance = d;
    if ((rc = cfl_load_or_fail(a->pos[0], &k))) return rc;
    if ((rc = cfl_load_or_fail(a->pos[1], &s))) {
        mv_free(&k);
        return rc;
    }
    /* BART: data / scale (estimated unless -w); -S multiplies the image back */
    if (scale == 0) {
        st = mv_bart_scale_estimate(&k, &scale, NULL);
        if (st != MV_OK) {
            mv_free(&k);
            mv_free(&s);
            return fail_at(st, a->pos[0]);
        }
        if (scale == 0) scale = 1;
    }
    mv_vol_init(&out);
    {
        double t0 = now_ms();
        st = mv_cgsense(&k, &s, &out, &o);
        if (opt_flag(a, "--time")) fprintf(stderr, "pics: %.1f ms, %d iterations\n", now_ms() - t0, o.iterations_done);
    }
    mv_free(&k);
    mv_free(&s);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    if (!opt_flag(a, "-S")) {
        int64_t i, n = 2 * mv_vol_count(&out);
        float *p = (float *)out.data;
        for (i = 0; i < n; i++) p[i] = (float)(p[i] / scale);
    }
    return cfl_save_or_fail(a->pos[2], &out);
}

static int cmd_grappa(const args *a)
{
    mv_vol k, out, g;
    mv_grappa_opts o = MV_ZERO_INIT;
    int64_t v, kk[3];
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
    if ((rc = cfl_load_or_fail(a->pos[0], &k))) return rc;
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
    if ((rc = cfl_save_or_fail(a->pos[1], &out))) {
        mv_free(&g);
        return rc;
    }
    if (opt_str(a, "--gfactor")) {
        mv_vol c;
        mv_status st = mv_convert(&g, &c, MV_DT_C64, NULL);
        mv_free(&g);
        if (st != MV_OK) return fail_at(st, opt_str(a, "--gfactor"));
        return cfl_save_or_fail(opt_str(a, "--gfactor"), &c);
    }
    return 0;
}

const command mvtool_recon_commands[] = {
    {"ecalib", "ESPIRiT coil sensitivity maps (BART ecalib)",
     "mvtool ecalib [-m 1|2] [-r CAL] [-k KERNEL] [-t THR] [-c CROP] KSPACE MAPS [EIG]\n"
     "  ESPIRiT maps (x, y, z, coils, maps) of multi-coil k-space with a fully\n"
     "  sampled centre, BART ecalib's defaults: -r 24 -k 6 -t 0.001 -c 0.8 -m 1\n"
     "  (-c 0: no crop). EIG: the eigenvalue maps. Files are BART .cfl/.hdr.\n"
     "  --time: the library call's time on stderr.\n",
     "-m= -r= -k= -t= -c= --time", 2, 3, cmd_ecalib},
    {"pics", "CG-SENSE reconstruction (BART pics -l2)",
     "mvtool pics -l2 [-r LAMBDA] [-i ITER] [-S] [-w SCALE] [--tol T] KSPACE MAPS OUT\n"
     "  Tikhonov-regularised SENSE by conjugate gradients on (A^H A + LAMBDA I) x\n"
     "  = A^H y, A = pattern * FFT * maps, as BART pics -l2: the data is divided\n"
     "  by BART's scale estimate (or -w SCALE) and -S scales the image back.\n"
     "  -t TRAJ (non-Cartesian) is not wired yet on this build.\n",
     "-l2 -l1 -r= -i= -S -w= -t= --tol= --time", 3, 3, cmd_pics},
    {"grappa", "GRAPPA reconstruction of undersampled k-space (+ g-factor)",
     "mvtool grappa KSPACE OUT [--acs N] [--kernel 5x4] [--accel R] [--lambda L] [--3d] [--gfactor G]\n"
     "  Fills the missing phase-encode lines of Cartesian undersampled k-space\n"
     "  (x, y, z, coils, ...) from a fully sampled centre (ACS, detected; --acs\n"
     "  caps it), kernel readout x lines (default 5x4; 5x4x4 with --3d, where z\n"
     "  is a k-space axis). --gfactor G writes the g-factor map. --time: stage times.\n",
     "--acs= --kernel= --accel= --lambda= --3d --gfactor= --time", 2, 2, cmd_grappa},
};
const int mvtool_recon_ncommands = (int)(sizeof(mvtool_recon_commands) / sizeof(mvtool_recon_commands[0]));
