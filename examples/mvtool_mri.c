/* mvtool_mri.c - the mri family of mvtool: BART-compatible non-Cartesian
   commands on .cfl/.hdr pairs (medvol.h >>api-nufft): traj (bart traj -r),
   nufft (bart nufft), and dcf (density compensation, which BART lacks). */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cfl_save_and_free(const char *path, mv_vol *v)
{
    mv_status st = mv_cfl_save(path, v, NULL);
    mv_free(v);
    return st == MV_OK ? 0 : fail_at(st, path);
}

static int get_int(const args *a, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
    const char *s = opt_str(a, name);
    if (!s) return 0;
    if (parse_ints(s, v, 1, lo, hi) != 1) return usage_error(a, "option wants a whole number in range", s);
    return 0;
}

/* bart traj -r [-G] [-s N] [-D] [-c] [-3] -x X -y Y OUT */
static int cmd_traj(const args *a)
{
    mv_traj_opts o;
    mv_vol t;
    int64_t x = 128, y = 128, s = 0, z = 0;
    int i, rc;
    const char *out = NULL;
    memset(&o, 0, sizeof(o));
    if ((rc = get_int(a, "-x", 1, (int64_t)1 << 30, &x)) || (rc = get_int(a, "-y", 1, (int64_t)1 << 30, &y)) ||
        (rc = get_int(a, "-s", 0, 1000000, &s)) || (rc = get_int(a, "--partitions", 1, (int64_t)1 << 24, &z)))
        return rc;
    for (i = 0; i < a->npos; i++) { /* "-3" reads as a positional word */
        if (strcmp(a->pos[i], "-3") == 0)
            o.kooshball = 1;
        else if (out)
            return usage_error(a, "unexpected argument", a->pos[i]);
        else
            out = a->pos[i];
    }
    if (!out) return usage_error(a, "missing OUT", NULL);
    if (!opt_flag(a, "-r") && !opt_flag(a, "-G") && !s && !opt_flag(a, "-D"))
        return usage_error(a, "only radial trajectories (-r, -G, -s, -D)", NULL);
    o.golden = opt_flag(a, "-G");
    o.tiny_golden = (int)s;
    o.full_circle = opt_flag(a, "-D");
    o.asym = opt_flag(a, "-c");
    o.golden_means = opt_flag(a, "--golden-means");
    o.partitions = z;
    {
        mv_status st = mv_traj_radial(&t, x, y, &o);
        if (st != MV_OK) return fail_at(st, out);
    }
    return cfl_save_and_free(out, &t);
}

/* bart nufft [-a] [-i] [-d X:Y:Z] TRAJ IN OUT [--tol T] */
static int cmd_nufft(const args *a)
{
    const char *d = opt_str(a, "-d"), *tol = opt_str(a, "--tol"), *th = opt_str(a, "--threads");
    mv_vol traj, in, out;
    mv_nufft_opts o;
    int64_t dims[3] = {0, 0, 0};
    double tv;
    mv_status st;
    memset(&o, 0, sizeof(o));
    if (opt_flag(a, "-i")) return usage_error(a, "-i (iterative inverse) is not implemented; use -a with a DCF", NULL);
    if (d) {
        char *e;
        int k;
        const char *p = d;
        for (k = 0; k < 3; k++) {
            long long v = strtoll(p, &e, 10);
            if (e == p || v < 1 || v > (1ll << 28) || (k < 2 && *e != ':') || (k == 2 && *e != 0))
                return usage_error(a, "-d wants X:Y:Z", d);
            dims[k] = v;
            p = e + 1;
        }
    }
    if (tol) {
        if (parse_list(tol, &tv, 1) != 1) return usage_error(a, "--tol wants a number", tol);
        o.tol = tv;
    }
    if (th) {
        int64_t t;
        if (parse_ints(th, &t, 1, 1, 256) != 1) return usage_error(a, "--threads wants 1..256", th);
        o.threads = (int)t;
    }
    st = mv_cfl_load(a->pos[0], &traj, NULL);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    st = mv_cfl_load(a->pos[1], &in, NULL);
    if (st != MV_OK) {
        mv_free(&traj);
        return fail_at(st, a->pos[1]);
    }
    st = mv_nufft(&traj, &in, &out, opt_flag(a, "-a"), dims, &o);
    mv_free(&traj);
    mv_free(&in);
    if (st != MV_OK) return fail_at(st, a->pos[1]);
    return cfl_save_and_free(a->pos[2], &out);
}

/* dcf TRAJ OUT [--pipe-menon N] : float weights saved as c64 .cfl */
static int cmd_dcf(const args *a)
{
    const char *pm = opt_str(a, "--pipe-menon");
    mv_vol traj, w, c;
    mv_dcf_opts o;
    mv_status st;
    int64_t i, it;
    memset(&o, 0, sizeof(o));
    if (pm) {
        if (parse_ints(pm, &it, 1, 1, 100000) != 1) return usage_error(a, "--pipe-menon wants an iteration count", pm);
        o.method = MV_DCF_PIPE_MENON;
        o.iterations = (int)it;
    }
    st = mv_cfl_load(a->pos[0], &traj, NULL);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    st = mv_dcf(&traj, &w, &o);
    mv_free(&traj);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    st = mv_vol_alloc(&c, MV_DT_C64, w.ndim, w.dim, NULL);
    if (st != MV_OK) {
        mv_free(&w);
        return fail_at(st, a->pos[1]);
    }
    for (i = 0; i < mv_vol_count(&w); i++) {
        ((float *)c.data)[2 * i] = ((const float *)w.data)[i];
        ((float *)c.data)[2 * i + 1] = 0;
    }
    mv_free(&w);
    return cfl_save_and_free(a->pos[1], &c);
}

const command mvtool_mri_commands[] = {
    {"traj", "radial k-space trajectory, as bart traj -r (.cfl)",
     "mvtool traj -r [-G] [-s N] [-D] [-c] [-3] [--golden-means] [--partitions Z] -x X -y Y OUT\n"
     "  BART's flags: -G golden angle, -s N tiny golden angle, -D 360 degrees, -c asymmetric (DC sampled),\n"
     "  -3 BART's 3D radial; --golden-means 3D golden means, --partitions Z stack of stars (kz = p - Z/2)\n",
     "-r -G -s= -D -c -x= -y= --golden-means --partitions=", 1, 2, cmd_traj},
    {"nufft", "non-uniform FFT, as bart nufft (.cfl)",
     "mvtool nufft [-a] [-d X:Y:Z] [--tol T] [--threads N] TRAJ IN OUT\n"
     "  forward: IN image (X, Y, Z, C) -> OUT k-space (1, S, P, C); -a adjoint: k-space -> image.\n"
     "  BART's scaling (1/sqrt(XYZ)), sign (forward exp(-i k.x)), DC at N/2; --tol 1e-6..0.1 (default 1e-3)\n",
     "-a -i -d= --tol= --threads=", 3, 3, cmd_nufft},
    {"dcf", "density compensation weights of a trajectory (.cfl)",
     "mvtool dcf TRAJ OUT [--pipe-menon N]\n"
     "  weights (1, S, P) in k-space area units: analytic radial ramp, or N Pipe-Menon iterations\n",
     "--pipe-menon=", 2, 2, cmd_dcf},
};
const int mvtool_mri_ncommands = (int)(sizeof(mvtool_mri_commands) / sizeof(mvtool_mri_commands[0]));
