/* mvtool_mri.c - the mri family of mvtool: BART-compatible non-Cartesian
   commands on .cfl/.hdr pairs (medvol.h >>api-nufft): traj (bart traj -r),
   nufft (bart nufft), and dcf (density compensation, which BART lacks).
   Files are read with BART's axes beyond medvol's 7 folded into dims[6]
   and written with BART's 16 sizes (cfl_load_folded, cfl_save_dims). */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return cfl_save_dims(out, &t, NULL);
}

/* bart nufft's frames: BART's axes 4..15 of the trajectory and IN each 1
   or the other's (bart's rule; OUT takes the larger), and along the folded
   axes 6..15 each file shared by all frames or by none (mv_nufft sees them
   as one axis). od: OUT's sizes on those axes. 0 or the usage error. */
static int nufft_frames(const args *a, const int64_t td[16], const int64_t id[16], int64_t od[16])
{
    int rc;
    if ((rc = cfl_broadcast(a, a->pos[0], td, a->pos[1], id, 4, od))) return rc;
    if ((rc = cfl_fold_broadcast(a, a->pos[0], td, od))) return rc;
    return cfl_fold_broadcast(a, a->pos[1], id, od);
}

/* "X:Y:Z" of -d into dims; 0 or the usage error */
static int nufft_dims(const args *a, const char *d, int64_t dims[3])
{
    const char *p = d;
    char *e;
    int k;
    for (k = 0; k < 3; k++) {
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 1 || v > (1ll << 28) || (k < 2 && *e != ':') || (k == 2 && *e != 0))
            return usage_error(a, "-d wants X:Y:Z", d);
        dims[k] = v;
        p = e + 1;
    }
    return 0;
}

/* bart nufft [-a] [-i] [-d X:Y:Z] TRAJ IN OUT [--tol T] */
static int cmd_nufft(const args *a)
{
    const char *d = opt_str(a, "-d"), *tol = opt_str(a, "--tol"), *th = opt_str(a, "--threads");
    mv_vol traj, in, out;
    mv_nufft_opts o;
    int64_t dims[3] = {0, 0, 0}, td[16], id[16], od[16];
    double tv;
    int rc, ax;
    mv_status st;
    memset(&o, 0, sizeof(o));
    if (opt_flag(a, "-i")) return usage_error(a, "-i (iterative inverse) is not implemented; use -a with a DCF", NULL);
    if (d && (rc = nufft_dims(a, d, dims))) return rc;
    if (tol) {
        if (parse_list(tol, &tv, 1) != 1) return usage_error(a, "--tol wants a number", tol);
        o.tol = tv;
    }
    if (th) {
        int64_t t;
        if (parse_ints(th, &t, 1, 1, 256) != 1) return usage_error(a, "--threads wants 1..256", th);
        o.threads = (int)t;
    }
    if ((rc = cfl_load_folded(a->pos[0], &traj, td))) return rc;
    if ((rc = cfl_load_folded(a->pos[1], &in, id)) || (rc = nufft_frames(a, td, id, od))) {
        mv_free(&traj);
        mv_free(&in); /* mv_free twice is harmless: the failed load left it empty */
        return rc;
    }
    st = mv_nufft(&traj, &in, &out, opt_flag(a, "-a"), dims, &o);
    mv_free(&traj);
    mv_free(&in);
    if (st != MV_OK) return fail_at(st, a->pos[1]);
    for (ax = 0; ax < 4; ax++) od[ax] = ax < out.ndim ? out.dim[ax] : 1; /* readout, spokes or x, y, z; coils */
    return cfl_save_dims(a->pos[2], &out, od);
}

/* dcf TRAJ OUT [--pipe-menon N] : float weights saved as c64 .cfl, one
   per sample of TRAJ: its 16 sizes with axis 0 (kx, ky, kz) of one */
static int cmd_dcf(const args *a)
{
    const char *pm = opt_str(a, "--pipe-menon");
    mv_vol traj, w, c;
    mv_dcf_opts o;
    mv_status st;
    int64_t i, it, td[16];
    int rc;
    memset(&o, 0, sizeof(o));
    if (pm) {
        if (parse_ints(pm, &it, 1, 1, 100000) != 1) return usage_error(a, "--pipe-menon wants an iteration count", pm);
        o.method = MV_DCF_PIPE_MENON;
        o.iterations = (int)it;
    }
    if ((rc = cfl_load_folded(a->pos[0], &traj, td))) return rc;
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
    td[0] = 1;
    return cfl_save_dims(a->pos[1], &c, td);
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
     "  BART's scaling (1/sqrt(XYZ)), sign (forward exp(-i k.x)), DC at N/2; --tol 1e-6..0.1 (default 1e-3)\n"
     "  Frames: BART's axes 4..15 (TIME_DIM 10 too; those beyond medvol's 7 folded\n"
     "  on load), each of TRAJ's and IN's 1 or the other's as bart's; OUT gets BART's\n"
     "  16 sizes. A file shared along some of the axes 6..15 and not others is refused.\n",
     "-a -i -d= --tol= --threads=", 3, 3, cmd_nufft},
    {"dcf", "density compensation weights of a trajectory (.cfl)",
     "mvtool dcf TRAJ OUT [--pipe-menon N]\n"
     "  weights (1, S, P) in k-space area units: analytic radial ramp, or N Pipe-Menon iterations\n"
     "  TRAJ's frames (BART's axes 4..15, TIME_DIM 10 too) kept: OUT has TRAJ's 16 sizes\n"
     "  with axis 0 of 1. Each frame its own weights (ramp and Pipe-Menon), as each\n"
     "  frame its own NUFFT plan.\n",
     "--pipe-menon=", 2, 2, cmd_dcf},
};
const int mvtool_mri_ncommands = (int)(sizeof(mvtool_mri_commands) / sizeof(mvtool_mri_commands[0]));
