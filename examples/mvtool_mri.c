/* mvtool_mri.c - the mri family of mvtool: BART-compatible non-Cartesian
   commands on .cfl/.hdr pairs (medvol.h >>api-nufft): traj (bart traj,
   every option), estdims, estdelay (bart estdims, estdelay), nufft (bart
   nufft), dcf (density compensation, which BART lacks), signal (bart
   signal's analytical relaxation curves, its bytes), epg (bart epg's
   extended phase graphs, mv_epg), looklocker, wavepsf and mobafit's
   exponential models (bart's).
   Files are read with BART's axes beyond medvol's 7 folded into dims[6]
   and written with BART's 16 sizes (cfl_load_folded, cfl_save_dims). */
#include "mvtool.h"
#include <complex.h> /* signal: BART's float complex models, cexpf as bart calls it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int get_int(const args *a, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
    const char *s = opt_str(a, name);
    if (!s) return 0;
    if (parse_ints(s, v, 1, lo, hi) != 1) return usage_error(a, "option wants a whole number in range", s);
    return 0;
}

/* -z Ref:Acel, or one number for both (bart's opt_vec2) */
static int get_zusamp(const args *a, mv_traj_opts *o)
{
    const char *s = opt_str(a, "-z");
    int64_t v[2];
    if (!s) return 0;
    if (strchr(s, ':')) {
        char w[64];
        size_t i;
        if (strlen(s) >= sizeof(w)) return usage_error(a, "-z wants Ref:Acel", s);
        for (i = 0; s[i]; i++) w[i] = s[i] == ':' ? ',' : s[i];
        w[i] = 0;
        if (parse_ints(w, v, 2, -65536, 65536) != 2) return usage_error(a, "-z wants Ref:Acel", s);
    } else {
        if (parse_ints(s, v, 1, -65536, 65536) != 1) return usage_error(a, "-z wants Ref:Acel", s);
        v[1] = v[0];
    }
    o->z_ref = v[0], o->z_accel = v[1];
    return 0;
}

/* -V's per-sample delays in the library's folded form: the table's BART
   axes each 1 or OUT's (any size where OUT's is 1, read at 0, as bart
   reads it), turns and partitions (axes 10, 13) into dims[6] */
static int traj_delay_table(const args *a, const char *path, const int64_t od[16], mv_vol *tb)
{
    mv_vol raw;
    int64_t bd[16], st[16], nd[MV_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1}, i, j, e, tm, k, s = 1;
    int ax, rc;
    if ((rc = cfl_load_folded(path, &raw, bd))) return rc;
    for (ax = 0; ax < 16; ax++) {
        st[ax] = bd[ax] == 1 ? 0 : s;
        s *= bd[ax];
        if (ax > 0 && bd[ax] != 1 && od[ax] != 1 && bd[ax] != od[ax]) {
            mv_free(&raw);
            return usage_error(a, "-V: each axis of the delay table 1 or the trajectory's", path);
        }
    }
    if (bd[0] != 3 && bd[0] != 6) {
        mv_free(&raw);
        return usage_error(a, "-V: 3 or 6 delays along the first axis", path);
    }
    nd[0] = bd[0], nd[1] = od[1] > 1 ? bd[1] : 1, nd[2] = od[2] > 1 ? bd[2] : 1, nd[5] = od[5] > 1 ? bd[5] : 1;
    nd[6] = (od[10] > 1 && bd[10] > 1) || (od[13] > 1 && bd[13] > 1) ? od[10] * od[13] : 1;
    if (mv_vol_alloc(tb, MV_DT_C64, 7, nd, NULL) != MV_OK) {
        mv_free(&raw);
        return fail_at(MV_ERR_OUT_OF_MEMORY, path);
    }
    for (tm = 0; tm < nd[6]; tm++)
        for (e = 0; e < nd[5]; e++)
            for (j = 0; j < nd[2]; j++)
                for (i = 0; i < nd[1]; i++) {
                    const int64_t t = tm % od[10], m = tm / od[10];
                    const int64_t src = i * st[1] + j * st[2] + e * st[5] + (bd[10] > 1 && od[10] > 1 ? t : 0) * st[10] +
                                        (bd[13] > 1 && od[13] > 1 ? m : 0) * st[13];
                    const int64_t dst = bd[0] * (i + nd[1] * (j + nd[2] * (e + nd[5] * tm)));
                    for (k = 0; k < bd[0]; k++) {
                        ((float *)tb->data)[2 * (dst + k)] = ((const float *)raw.data)[2 * (src + k)];
                        ((float *)tb->data)[2 * (dst + k) + 1] = ((const float *)raw.data)[2 * (src + k) + 1];
                    }
                }
    mv_free(&raw);
    return 0;
}

/* bart traj [-x X] [-y Y] [-d D] [-e E] [-a A] [-t T] [-m M] [-l] [-g] [-r]
   [-G] [-H] [-s N] [-D] [-o O] [-R PHI] [-q x:y:xy] [-Q z:xz:yz] [-O] [-3]
   [-c] [-E] [-z R:A] [-C FILE] [-V FILE] OUT: bart 0.8's bytes */
static int cmd_traj(const args *a)
{
    mv_traj_opts o;
    mv_vol t, cust, tb;
    int64_t x = 128, y = 128, s = 0, z = 0, od[16];
    const char *cf = opt_str(a, "-C"), *vf = opt_str(a, "-V");
    int i, rc = 0, ax;
    const char *out = NULL;
    mv_status st;
    memset(&o, 0, sizeof(o));
    memset(&cust, 0, sizeof(cust));
    memset(&tb, 0, sizeof(tb));
    if ((rc = get_int(a, "-x", 1, (int64_t)1 << 30, &x)) || (rc = get_int(a, "-y", 1, (int64_t)1 << 30, &y)) ||
        (rc = get_int(a, "-s", 0, 1000000, &s)) || (rc = get_int(a, "--partitions", 1, (int64_t)1 << 24, &z)) ||
        (rc = get_int(a, "-d", 1, (int64_t)1 << 30, &o.full_samples)) ||
        (rc = get_int(a, "-e", 1, 65536, &o.echoes)) || (rc = get_int(a, "-a", 1, (int64_t)1 << 30, &o.accel)) ||
        (rc = get_int(a, "-t", 1, 65536, &o.turns)) || (rc = get_int(a, "-m", 1, 65536, &o.multiband)) ||
        (rc = opt_floats(a, "-o", &o.oversampling, 1)) || (rc = opt_floats(a, "-R", &o.rotate_deg, 1)) ||
        (rc = opt_floats(a, "-q", o.delays, 3)) || (rc = opt_floats(a, "-Q", o.delays + 3, 3)) ||
        (rc = get_zusamp(a, &o)))
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
    if (opt_str(a, "-o") && !(o.oversampling > 0)) return usage_error(a, "-o: oversampling factor must be positive", opt_str(a, "-o"));
    if (cf && !opt_flag(a, "-r")) return usage_error(a, "-C: custom angles make sense only for radial trajectories (-r)", cf);
    o.cartesian = !opt_flag(a, "-r");
    o.golden = opt_flag(a, "-G");
    o.half_circle = opt_flag(a, "-H");
    o.tiny_golden = (int)s;
    o.full_circle = opt_flag(a, "-D");
    o.asym = opt_flag(a, "-c");
    o.aligned = opt_flag(a, "-l");
    o.golden_partition = opt_flag(a, "-g");
    o.transverse = opt_flag(a, "-O");
    o.multi_echo_spokes = opt_flag(a, "-E");
    o.golden_means = opt_flag(a, "--golden-means");
    o.partitions = z;
    if (cf) {
        if ((rc = cfl_load_folded(cf, &cust, NULL))) return rc;
        o.custom_angles = &cust;
    }
    /* OUT's sizes: axis 5 echoes, 10 turns, 13 multiband partitions */
    for (ax = 0; ax < 16; ax++) od[ax] = 1;
    od[10] = o.turns ? o.turns : 1, od[13] = o.multiband ? o.multiband : 1;
    st = mv_traj(&t, x, y, &o);
    if (st == MV_OK && vf) {
        for (ax = 0; ax < 5; ax++) od[ax] = t.dim[ax];
        od[5] = t.dim[5];
        mv_free(&t);
        if ((rc = traj_delay_table(a, vf, od, &tb))) {
            mv_free(&cust);
            return rc;
        }
        o.delay_table = &tb;
        st = mv_traj(&t, x, y, &o);
    }
    mv_free(&cust);
    mv_free(&tb);
    if (st != MV_OK) return fail_at(st, out);
    for (ax = 0; ax < 6; ax++) od[ax] = t.dim[ax];
    return cfl_save_dims(out, &t, od);
}

/* bart estdims TRAJ: "X Y Z", 2 ceil(max |k|) per coordinate (1 where all
   are 0), BART 0.8's estimate_im_dims */
static int cmd_estdims(const args *a)
{
    mv_vol traj;
    int64_t dims[3];
    int rc;
    mv_status st;
    if ((rc = cfl_load_mapped(a->pos[0], &traj, NULL))) return rc;
    st = mv_traj_image_dims(&traj, dims);
    mv_free(&traj);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    printf("%lld %lld %lld\n", (long long)dims[0], (long long)dims[1], (long long)dims[2]);
    return 0;
}

/* bart estdelay [-R] [-p P] [-n N] [-r R] TRAJ DATA [QF]: the delays
   x:y:xy on stdout (bart's "%f:%f:%f"), and in QF (3 samples) when named;
   bart's warnings on stderr */
static int cmd_estdelay(const args *a)
{
    mv_estdelay_opts o;
    mv_estdelay_result r;
    mv_vol traj, data;
    int64_t p = 0, n = 0, bd[16] = {3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float reg = 0;
    int rc, k;
    mv_status st;
    memset(&o, 0, sizeof(o));
    if ((rc = get_int(a, "-p", 2, 100000, &p)) || (rc = get_int(a, "-n", 1, 1 << 20, &n)) ||
        (rc = opt_floats(a, "-r", &reg, 1)))
        return rc;
    if (p % 2) return usage_error(a, "-p: the padding factor must be even (bart's)", opt_str(a, "-p"));
    if (opt_str(a, "-r") && !(reg > 0)) return usage_error(a, "-r: a region larger than 0", opt_str(a, "-r"));
    o.ring = opt_flag(a, "-R");
    o.pad_factor = (int)p, o.intersections = (int)n, o.region = reg;
    if ((rc = cfl_load_mapped(a->pos[0], &traj, NULL))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &data, NULL))) {
        mv_free(&traj);
        return rc;
    }
    st = mv_estdelay(&traj, &data, &o, &r);
    if (st == MV_OK) {
        const int64_t x = traj.dim[1];
        if (x % 2 == 1) fprintf(stderr, "mvtool estdelay: warning: odd number of samples\n");
        if (fabsf(r.dc_shift / r.dk - (x % 2 ? 0.0f : 0.5f)) > 0.0001f)
            fprintf(stderr, "mvtool estdelay: warning: DC is shifted by: %f [sample], 1 sample = %f [1/FOV]\n",
                    r.dc_shift, r.dk);
        if (r.inconsistent_spokes)
            fprintf(stderr, "mvtool estdelay: warning: %lld spokes are inconsistently shifted (sample %lld not at "
                    "%f)\n", (long long)r.inconsistent_spokes, (long long)(x / 2), r.dc_shift);
        if (r.region_too_small) fprintf(stderr, "mvtool estdelay: warning: choose a larger region (-r)\n");
    }
    mv_free(&traj);
    mv_free(&data);
    if (st != MV_OK) return fail_at(st, a->pos[1]);
    printf("%f:%f:%f\n", r.delays[0], r.delays[1], r.delays[2]);
    if (a->npos == 3) {
        mv_vol q;
        const int64_t d3 = 3;
        if (mv_vol_alloc(&q, MV_DT_C64, 1, &d3, NULL) != MV_OK) return fail_at(MV_ERR_OUT_OF_MEMORY, a->pos[2]);
        for (k = 0; k < 3; k++) ((float *)q.data)[2 * k] = r.delays[k], ((float *)q.data)[2 * k + 1] = 0.0f;
        return cfl_save_dims(a->pos[2], &q, bd);
    }
    return 0;
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

/* ---- signal: bart signal's analytical models (BART 0.8 simu/signals.c) ---- */

#define BART_GYRO 42.57747892 /* BART's misc/mri.h: MHz / T */
#define BART_PI 3.14159265358979323846 /* M_PI */

/* BART's struct signal_model (the fields these models read) */
typedef struct bart_signal {
    float m0, m0_water, m0_fat, ms, t1, t2, te, tr, b0, off_reson, fa, time_t1relax;
    int ir, ir_ss, fat_spec; /* fat_spec: 0 Hernando 2012, 1 Hamilton 2011 */
    long hbeats;
} bart_signal;

/* the Look-Locker recovery after ind readouts (from m_start, else the
   inversion or steady state), each expression in bart's types */
static float sig_looklocker(const bart_signal *d, int ind, const float *m_start)
{
    const float r1s = 1. / d->t1 - logf(cosf(d->fa)) / d->tr;
    const float mss = d->m0 / (d->t1 * r1s);
    const float s0 = m_start ? *m_start : d->ir_ss ? -1.f * mss : d->ir ? (-1.f * d->m0) : d->m0;
    return mss - (mss - s0) * expf(-ind * d->tr * r1s);
}

static float complex sig_fat_modulation(float b0, float te, int spec)
{
    static const float ppm[6] = {-3.80f, -3.40f, -2.60f, -1.94f, -0.39f, +0.60f};
    static const float amp[2][6] = {{0.087f, 0.693f, 0.128f, 0.004f, 0.039f, 0.048f},  /* ISMRM fat-water toolbox (Hernando) */
                                    {0.086f, 0.537f, 0.165f, 0.046f, 0.052f, 0.114f}}; /* Hamilton et al., NMR Biomed 2011 */
    float complex out = 0.f;
    int p;
    for (p = 0; p < 6; p++) { /* 2i pi GYRO b0 ppm TE in double, left to right, then float */
        const float im = (float)((((2. * BART_PI) * BART_GYRO) * b0) * ppm[p] * te);
        float ri[2];
        float complex phs;
        ri[0] = 0.f, ri[1] = im;
        memcpy(&phs, ri, sizeof(phs));
        out += amp[spec][p] * cexpf(phs);
    }
    return out;
}

/* one curve of n samples of the sequence seq into out */
static void sig_model(int seq, const bart_signal *d, int two, int n, float complex *out)
{
    int i, cycle = 0;
    float temp = d->ir ? -1.f * d->m0 : d->m0;
    for (i = 0; i < n; i++) {
        switch (seq) {
        case 'F':
            if (!two) out[i] = sig_looklocker(d, i, NULL);
            else { /* looklocker_model2: the saturation Ms given */
                const float r1s = 1. / d->t1;
                out[i] = d->ms - (d->ms + d->m0) * expf(-(i + 0.5) * d->tr * r1s);
            }
            break;
        case 'T': {
            const float r2 = 1. / d->t2;
            out[i] = d->m0 * expf(-i * d->te * r2);
            break;
        }
        case 'B': {
            const float fa2 = d->fa / 2., s0 = d->m0 * sinf(fa2);
            const float r1s = (cosf(fa2) * cosf(fa2)) / d->t1 + (sinf(fa2) * sinf(fa2)) / d->t2;
            const float mss = d->m0 * sinf(d->fa) / ((d->t1 / d->t2 + 1.) - cosf(d->fa) * (d->t1 / d->t2 - 1.));
            out[i] = mss - (mss + s0) * expf(-i * d->tr * r1s);
            break;
        }
        case 'M': { /* MOLLI: Look-Locker within each heart beat, T1 recovery between */
            const float r1 = 1.0 / d->t1;
            if (i > 0 && i % (n / d->hbeats) == 0) {
                temp = crealf(d->m0 + (out[i - 1] - d->m0) * expf(-1.0 * d->time_t1relax * r1));
                cycle++;
            }
            out[i] = sig_looklocker(d, i - cycle * (int)(n / d->hbeats), &temp);
            break;
        }
        default: { /* 'G': multi gradient echo, water and fat */
            const float te = d->te * i;
            const float complex cshift = sig_fat_modulation(d->b0, te, d->fat_spec);
            float ri[2];
            float complex z;
            ri[0] = (float)(-1. / d->t2), ri[1] = (float)((2. * BART_PI) * d->off_reson);
            memcpy(&z, ri, sizeof(z));
            out[i] = (d->m0_water + d->m0_fat * cshift) * cexpf(z * te);
            break;
        }
        }
    }
}

/* signal [-F|-B|-T|-M|-G] [--fat] [-I] [-s] [-0 a:b:n] [-1 ..] [-2 ..] [-3 ..] [-r TR] [-e TE] [-f FA] [-t T]
   [-n N] [-b B] [--av-spokes K] OUT (bart signal) */
static int cmd_signal(const args *a)
{
    float off[3] = {20.f, 20.f, 1.f}, T1[3] = {0.5f, 1.5f, 1.f}, T2[3] = {0.05f, 0.15f, 1.f}, Ms[3] = {0.05f, 1.0f, 1.f};
    float fa = -1.f, tr = -1.f, te = -1.f, trelax = -1.f;
    int64_t n = 100, hb = -1, avs = 1, bd[16], c[16];
    int seq = 'F', i, rc, ir = opt_flag(a, "-I"), ir_ss = opt_flag(a, "-s"), fat = opt_flag(a, "--fat");
    bart_signal d;
    mv_vol o;
    float complex *mxy, *out;
    for (i = 0; i < a->nopt; i++) /* bart's OPT_SELECT: the last one given */
        if (strchr("FBTMG", a->opt_name[i][1]) && a->opt_name[i][2] == 0) seq = a->opt_name[i][1];
    if ((rc = opt_floats(a, "-0", off, 3)) || (rc = opt_floats(a, "-1", T1, 3)) || (rc = opt_floats(a, "-2", T2, 3)) ||
        (rc = opt_floats(a, "-3", Ms, 3)) || (rc = opt_floats(a, "-r", &tr, 1)) || (rc = opt_floats(a, "-e", &te, 1)) ||
        (rc = opt_floats(a, "-f", &fa, 1)) || (rc = opt_floats(a, "-t", &trelax, 1)) ||
        (rc = get_int(a, "-n", 1, 1 << 24, &n)) || (rc = get_int(a, "-b", 1, 1 << 24, &hb)) ||
        (rc = get_int(a, "--av-spokes", 1, 1 << 20, &avs)))
        return rc;
    if (seq == 'B' && !ir) return usage_error(a, "only an IR signal for bSSFP (bart: add -I)", "-B");
    if (ir && ir_ss) return usage_error(a, "-I and -s exclude each other (bart asserts)", "-s");
    if (seq == 'M' && (hb < 1 || (n * avs) % hb != 0))
        return usage_error(a, "MOLLI needs -b BEATS dividing the measurements (times --av-spokes)", opt_str(a, "-b") ? opt_str(a, "-b") : "-M");
    memset(&d, 0, sizeof(d));
    switch (seq) { /* bart's defaults per model: double constants stored in its float fields */
    case 'G':
        d.m0 = 1.f, d.te = (float)(1.6 * 1.E-3), d.b0 = 3.f, d.off_reson = 20.f;
        d.m0_water = fat ? (float)0.8 : 1.f, d.m0_fat = fat ? (float)0.2 : 0.f, d.fat_spec = fat ? 1 : 0;
        break;
    case 'B': d.t1 = 1.f, d.t2 = (float)0.1, d.m0 = 1.f, d.tr = (float)0.0045, d.fa = (float)(45. * BART_PI / 180.); break;
    case 'T': d.t2 = (float)0.1, d.m0 = 1.f, d.te = (float)0.01; break;
    default: d.t1 = 1.f, d.m0 = 1.f, d.ms = (float)0.5, d.tr = (float)0.0041, d.fa = (float)(8. * BART_PI / 180.); break; /* FLASH, MOLLI */
    }
    d.time_t1relax = trelax, d.hbeats = (long)hb;
    if (fa != -1.f) d.fa = (float)(fa * BART_PI / 180.);
    if (tr != -1.f) d.tr = tr;
    if (te != -1.f) d.te = te;
    d.ir = ir, d.ir_ss = ir_ss;
    ones16(bd);
    bd[5] = n, bd[6] = (int64_t)truncf(T1[2]), bd[7] = (int64_t)(Ms[2] != 1.f ? truncf(Ms[2]) : truncf(T2[2])), bd[8] = (int64_t)truncf(off[2]);
    if (bd[6] < 1 || bd[7] < 1 || bd[8] < 1 || bd[6] * bd[7] * bd[8] > (1 << 24))
        return usage_error(a, "invalid parameter range (each count >= 1)", "-1/-2/-3/-0");
    if ((rc = alloc16(&o, bd, a->pos[0]))) return rc;
    mxy = (float complex *)malloc((size_t)(n * avs) * sizeof(float complex));
    if (!mxy) {
        mv_free(&o);
        return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "signal: %lld samples", (long long)(n * avs)), a->pos[0]);
    }
    out = (float complex *)o.data;
    memset(c, 0, sizeof(c));
    do { /* T1 along axis 6, Ms or T2 along 7, off-resonance along 8 (BART's COEFF, COEFF2, ITER) */
        int64_t t, k;
        d.t1 = T1[0] + (T1[1] - T1[0]) / T1[2] * (float)c[6];
        if (Ms[2] != 1.f) d.ms = Ms[0] + (Ms[1] - Ms[0]) / Ms[2] * (float)c[7];
        else d.t2 = T2[0] + (T2[1] - T2[0]) / T2[2] * (float)c[7];
        d.off_reson = off[0] + (off[1] - off[0]) / off[2] * (float)c[8];
        sig_model(seq, &d, Ms[2] != 1.f, (int)(n * avs), mxy);
        for (t = 0; t < n; t++) { /* bart's get_signal: the mean of each run of averaged spokes */
            float complex sum = 0.f;
            for (k = 0; k < avs; k++) sum += mxy[t * avs + k];
            out[t + n * (c[6] + bd[6] * (c[7] + bd[7] * c[8]))] = sum / (int)avs;
        }
        c[5] = 0;
    } while (next16(c, (const int64_t[16]){1, 1, 1, 1, 1, 1, bd[6], bd[7], bd[8], 1, 1, 1, 1, 1, 1, 1}));
    free(mxy);
    return cfl_save_dims(a->pos[0], &o, bd);
}

/* epg [-C|-M|-H|-F|-S|-B] [-1 T1] [-2 T2] [-b B1] [-o OFF] [-r TR] [-e TE] [-f FA] [-s SP] [-n N] [-u U]
   [-v V] [--refocus DEG] [--seed S] SIGNAL [STATES] [SIGDER] [STATESDER] (bart epg) */
static int epg_save(const char *path, float *data, const int64_t bd[16])
{
    mv_vol o;
    int64_t dims[MV_MAX_DIMS];
    mv_status st = mv_vol_wrap(&o, data, MV_DT_C64, cfl_fold_dims(bd, dims), dims); /* written from the array itself */
    return st == MV_OK ? cfl_save_dims(path, &o, bd) : fail_at(st, path);
}

static void epg_print_crb(const double *fisher, const double *rcrb, int P, unsigned unknowns)
{
    static const char *labels[4] = {"rCRB T1", "rCRB T2", "rCRB B1", " CRB OF"};
    int i, j, q;
    printf("Fisher information matrix: \n");
    for (i = 0; i < P; i++) {
        for (j = 0; j < P; j++) printf("%1.2f%+1.2fi ", (float)fisher[2 * (i * P + j)], (float)fisher[2 * (i * P + j) + 1]);
        printf("\n");
    }
    if (!rcrb) return;
    printf("\nrCRB M0: %3.3f\n", (float)rcrb[0]);
    for (q = 0, i = 1; q < 4; q++)
        if ((unknowns >> q) & 1u) printf("%s: %3.3f\n", labels[q], (float)rcrb[i++]);
    printf("\n");
}

static int cmd_epg(const args *a)
{
    /* bart's defaults, as its float options hold them */
    float t1 = 0.800f, t2 = 0.050f, tr = 0.005f, te = 0.010f, fa = 15.0f, off = 0.f, b1 = 1.f, refocus = 180.f;
    int64_t n = 10, sp = 0, unknowns = 3, verbose = 0, seed = 1, M, bd[16];
    mv_epg_opts o;
    float *sig = NULL, *st = NULL, *sd = NULL, *sdr = NULL;
    const int np = a->npos;
    int i, rc;
    mv_status s;
    memset(&o, 0, sizeof(o));
    for (i = 0; i < a->nopt; i++) { /* bart's OPT_SELECT: the last one given */
        static const char seqs[] = "CMHFSB";
        const char *p = a->opt_name[i][2] == 0 ? strchr(seqs, a->opt_name[i][1]) : NULL;
        if (p && *p) o.sequence = (int)(p - seqs);
    }
    if ((rc = opt_floats(a, "-1", &t1, 1)) || (rc = opt_floats(a, "-2", &t2, 1)) || (rc = opt_floats(a, "-b", &b1, 1)) ||
        (rc = opt_floats(a, "-o", &off, 1)) || (rc = opt_floats(a, "-r", &tr, 1)) || (rc = opt_floats(a, "-e", &te, 1)) ||
        (rc = opt_floats(a, "-f", &fa, 1)) || (rc = opt_floats(a, "--refocus", &refocus, 1)) ||
        (rc = get_int(a, "-s", 0, 2, &sp)) || (rc = get_int(a, "-n", 1, (int64_t)1 << 20, &n)) ||
        (rc = get_int(a, "-u", 1, 15, &unknowns)) || (rc = get_int(a, "-v", 0, 1 << 20, &verbose)) ||
        (rc = get_int(a, "--seed", 1, 4294967295LL, &seed)))
        return rc;
    if (!(t1 > 0 && t2 > 0 && tr > 0 && te > 0 && fa > 0 && b1 > 0 && refocus > 0))
        return usage_error(a, "T1, T2, TR, TE, FA, B1 and the refocusing flip must be above 0", "-1/-2/-r/-e/-f/-b");
    o.t1 = t1, o.t2 = t2, o.tr = tr, o.te = te, o.fa_deg = fa, o.b1 = b1, o.offres = off, o.refocus_deg = refocus;
    o.spoiling = (int)sp, o.seed = (unsigned)seed;
    if (o.sequence == MV_EPG_SPINECHO && n > 2) return usage_error(a, "a spin echo has 1 or 2 echoes (-n)", opt_str(a, "-n"));
    if (o.sequence == MV_EPG_HYPERECHO && n % 2 == 0)
        return usage_error(a, "a hyperecho needs an odd echo count (-n)", opt_str(a, "-n") ? opt_str(a, "-n") : "-H");
    M = mv_epg_orders(o.sequence, n);
    sig = (float *)malloc((size_t)(2 * n) * sizeof(float));
    if (np > 1) st = (float *)malloc((size_t)(6 * M * n) * sizeof(float));
    if (np > 2 || verbose > 0) sd = (float *)malloc((size_t)(8 * n) * sizeof(float));
    if (np > 3) sdr = (float *)malloc((size_t)(24 * M * n) * sizeof(float));
    if (!sig || (np > 1 && !st) || ((np > 2 || verbose > 0) && !sd) || (np > 3 && !sdr))
        rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "epg: %lld echoes of %lld orders", (long long)n, (long long)M), a->pos[0]);
    else if ((s = mv_epg(n, &o, sig, st, sd, sdr)) != MV_OK)
        rc = fail_at(s, a->pos[0]);
    if (!rc && verbose > 0 && np > 2) { /* bart prints the bounds where it writes the derivatives */
        double fisher[50], rcrb[5];
        const int P = 1 + ((unknowns & 1) != 0) + ((unknowns & 2) != 0) + ((unknowns & 4) != 0) + ((unknowns & 8) != 0);
        s = mv_epg_crb(sig, sd, n, (unsigned)unknowns, &o, fisher, rcrb);
        if (s == MV_OK) epg_print_crb(fisher, rcrb, P, (unsigned)unknowns);
        else if (s == MV_ERR_BAD_DATA) { /* the matrix, and no bounds (bart prints its float inverse's noise) */
            epg_print_crb(fisher, NULL, P, (unsigned)unknowns);
            fprintf(stderr, "mvtool epg: %s: no bounds\n", mv_last_error());
        } else
            rc = fail_at(s, a->pos[2]);
    }
    ones16(bd), bd[5] = n;
    if (!rc) rc = epg_save(a->pos[0], sig, bd);
    bd[6] = M, bd[7] = 3; /* BART's COEFF_DIM and COEFF2_DIM */
    if (!rc && np > 1) rc = epg_save(a->pos[1], st, bd);
    bd[6] = bd[7] = 1, bd[8] = 4; /* ITER_DIM */
    if (!rc && np > 2) rc = epg_save(a->pos[2], sd, bd);
    bd[6] = M, bd[7] = 3; /* [4][3][M][n]: n (5), M (6), F+ F- Z (7), the parameter (8) */
    if (!rc && np > 3) rc = epg_save(a->pos[3], sdr, bd);
    free(sig), free(st), free(sd), free(sdr);
    return rc;
}

/* looklocker [-t T] [-D D] IN OUT (bart looklocker): T1 = |M0| / (|Mss| |R1*|) + 2 D per voxel from
   a Look-Locker fit's coefficients (Mss, M0, R1*) along BART's axis 6; 0 where |Mss| < T or T1 is NaN */
static int cmd_looklocker(const args *a)
{
    float threshold = 0.2f, td = 0.f;
    int64_t bd[16], od[16], s[16], c[16];
    mv_vol in, out;
    int rc;
    if ((rc = opt_floats(a, "-t", &threshold, 1)) || (rc = opt_floats(a, "-D", &td, 1))) return rc;
    if ((rc = cfl_load_mapped(a->pos[0], &in, bd))) return rc;
    if (bd[6] < 3) {
        mv_free(&in);
        return usage_error(a, "IN: the fit's Mss, M0 and R1* along BART's axis 6 (COEFF_DIM)", a->pos[0]);
    }
    memcpy(od, bd, sizeof(od));
    od[6] = 1;
    if ((rc = alloc16(&out, od, a->pos[1]))) {
        mv_free(&in);
        return rc;
    }
    strides_of(bd, s);
    memset(c, 0, sizeof(c));
    do { /* bart's arithmetic: cabs in double, the quotient rounded to float */
        const float *p = (const float *)in.data + 2 * offset16(c, bd);
        const double ms = cabs(p[0] + I * p[1]), m0 = cabs(p[2 * s[6]] + I * p[2 * s[6] + 1]),
                     r1 = cabs(p[4 * s[6]] + I * p[4 * s[6] + 1]);
        float t1 = (float)(m0 / (ms * r1) + 2. * td);
        if (isnan(t1) || ms < threshold) t1 = 0.f;
        ((float *)out.data)[2 * offset16(c, od)] = t1;
    } while (next16(c, od));
    mv_free(&in);
    return cfl_save_dims(a->pos[1], &out, od);
}

/* ---- twixread: Siemens raw data ---- */

static int cmd_twixread(const args *a)
{
    static const char *const num[][2] = {{"-x", "samples"}, {"-y", "lines"}, {"-z", "partitions"}, {"-s", "slices"},
                                         {"-v", "averages"}, {"-c", "channels"}, {"-n", "repetitions"},
                                         {"-r", "radial lines"}, {"-a", "ADCs"}};
    mv_twix_opts o = MV_ZERO_INIT;
    int64_t *dst[9], v;
    mv_vol out;
    mv_status st;
    size_t i;
    dst[0] = &o.samples, dst[1] = &o.lines, dst[2] = &o.partitions, dst[3] = &o.slices, dst[4] = &o.averages;
    dst[5] = &o.channels, dst[6] = &o.repetitions, dst[7] = &o.radial_lines, dst[8] = &o.adcs;
    for (i = 0; i < 9; i++) {
        const char *s = opt_str(a, num[i][0]);
        if (s && parse_ints(s, &v, 1, i == 8 ? 0 : 1, (int64_t)1 << 31) != 1) { /* -a 0: BART's default count */
            char msg[80];
            snprintf(msg, sizeof(msg), "%s takes a count of %s, %d .. 2^31", num[i][0], num[i][1], i == 8 ? 0 : 1);
            return usage_error(a, msg, s);
        }
        if (s) *dst[i] = v;
    }
    v = 0;
    if (get_int(a, "-d", 0, 9, &v)) return 2;
    o.auto_dims = opt_flag(a, "-A");
    o.line_offset = opt_flag(a, "-L");
    o.partition_offset = opt_flag(a, "-P");
    o.mpi = opt_flag(a, "-M");
    mv_vol_init(&out);
    st = mv_twix_read(a->pos[0], &out, &o);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    if (opt_str(a, "-d") && v >= 2) {
        if (o.vd)
            fprintf(stderr, "twixread: VD/VE header, %d scans; patient %s, protocol %s\n", o.scans, o.patient, o.protocol);
        else
            fprintf(stderr, "twixread: VB header\n");
        fprintf(stderr, "twixread: %lld image ADCs, %lld outside the sizes (skipped)\n", (long long)o.adcs_read,
                (long long)o.adcs_outside);
    } else if (o.adcs_outside) {
        fprintf(stderr, "twixread: %lld ADCs outside the sizes, skipped (as BART's \"Index out of bounds\")\n",
                (long long)o.adcs_outside);
    }
    return cfl_save_dims(a->pos[1], &out, o.dims);
}

/* wavepsf [-c] [-x X] [-y Y] [-r R] [-a ADC] [-t DT] [-g G] [-s S] [-n N] OUT (bart wavepsf): the
   wave-CAIPI point spread function in hybrid space, BART's float steps: the sine (or -c cosine)
   gradient of N cycles over the readout, slew or amplitude limited; its phase per cm (the gradient's
   integral, prephased to a zero mean), sinc-interpolated from ADC / 10 points to X by BART's centred
   unitary FFTs; psf[y][x] = e^{i phase[x] (-R (y - Y/2))} */
#define BART_LARMOR 4257.56 /* Hz per Gauss */
static int cmd_wavepsf(const args *a)
{
    int64_t sx = 512, sy = 128, adc = 3000, ncyc = 6, wp, t, y, bd[16], wd[16];
    float dy = 0.1f, dt = 1e-5f, gmax = 0.8f, smax = 17000.f, T, w, gamp, prephase, cumsum = 0.f, scale;
    float *k, *ph;
    const int cs = opt_flag(a, "-c");
    mv_vol o;
    mv_status st;
    int rc;
    if ((rc = get_int(a, "-x", 1, 1 << 20, &sx)) || (rc = get_int(a, "-y", 1, 1 << 20, &sy)) ||
        (rc = get_int(a, "-a", 10, 1 << 26, &adc)) || (rc = get_int(a, "-n", 1, 1 << 20, &ncyc)) ||
        (rc = opt_floats(a, "-r", &dy, 1)) || (rc = opt_floats(a, "-t", &dt, 1)) || (rc = opt_floats(a, "-g", &gmax, 1)) ||
        (rc = opt_floats(a, "-s", &smax, 1)))
        return rc;
    if (adc % 10) return usage_error(a, "the readout duration is a multiple of 10 us (bart asserts)", opt_str(a, "-a"));
    if (sx * sy > ((int64_t)1 << 28)) return usage_error(a, "the PSF is at most 2^28 samples", opt_str(a, "-x"));
    if (!(dt > 0) || !(gmax > 0) || !(smax > 0)) return usage_error(a, "-t, -g and -s must be above 0", "-t/-g/-s");
    wp = adc / 10;
    T = (float)wp * dt / (float)ncyc;
    w = (float)(2 * BART_PI / T);
    gamp = smax >= w * gmax ? gmax : smax / w;
    prephase = (float)(-2 * BART_PI * BART_LARMOR * gamp / w);
    k = (float *)calloc((size_t)(2 * (wp > sx ? wp : sx)), sizeof(float));
    ph = (float *)calloc((size_t)(2 * sx), sizeof(float));
    if (!k || !ph) {
        free(k), free(ph);
        return fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "wavepsf: %lld points", (long long)sx), a->pos[0]);
    }
    for (t = 0; t < wp; t++) { /* the gradient and its phase per cm, in BART's float and double steps */
        const float x = w * (float)t * dt, g = (float)(gamp * (cs ? cos(x) : sin(x)));
        k[2 * t] = (float)(2 * BART_PI * BART_LARMOR * (cumsum + g / 2.0) * dt + prephase);
        cumsum = cumsum + g;
    }
    ones16(wd), wd[0] = wp;
    st = bart_fft_samples(k, wd, 1u, 0, MV_FFT_ORTHO, 1); /* fftuc */
    if (st == MV_OK) { /* md_resize_center: pad (or crop) about n/2 */
        const int64_t off = sx / 2 - wp / 2;
        for (t = 0; t < sx; t++)
            if (t - off >= 0 && t - off < wp) ph[2 * t] = k[2 * (t - off)], ph[2 * t + 1] = k[2 * (t - off) + 1];
        wd[0] = sx;
        st = bart_fft_samples(ph, wd, 1u, 1, MV_FFT_ORTHO, 1); /* ifftuc */
    }
    free(k);
    if (st != MV_OK) {
        free(ph);
        return fail_at(st, a->pos[0]);
    }
    scale = (float)sqrt((float)sx / (double)wp);
    ones16(bd), bd[0] = sx, bd[1] = sy;
    if ((rc = alloc16(&o, bd, a->pos[0]))) {
        free(ph);
        return rc;
    }
    for (y = 0; y < sy; y++) { /* md_zsmul by -dy (y - sy/2), then cexpf(i phase) */
        const float val = -dy * (float)(y - sy / 2);
        float *row = (float *)o.data + 2 * sx * y;
        for (t = 0; t < sx; t++) {
            const float p = ph[2 * t] * scale * val;
            row[2 * t] = cosf(p), row[2 * t + 1] = sinf(p);
        }
    }
    free(ph);
    return cfl_save_dims(a->pos[0], &o, bd);
}

/* mobafit (-T|-D) [-i N] ENC ECHOES COEFFS (bart mobafit's exponential models, mv_exp_fit) */
static int cmd_mobafit(const args *a)
{
    int64_t ed[16], yd[16], xd[16], it = 5, nvox = 1, outer = 1, T, K, b, i;
    mv_vol enc, y, x;
    float *e = NULL;
    int seq = 'G', ax, rc;
    mv_status st = MV_OK;
    for (i = 0; i < a->nopt; i++) /* bart's OPT_SELECT: the last one given (MGRE its default) */
        if (strchr("TGD", a->opt_name[i][1]) && a->opt_name[i][2] == 0) seq = a->opt_name[i][1];
    if (seq == 'G')
        return usage_error(a, "the multi-echo gradient-echo (water/fat) models are not built: -T (TSE) or -D (diffusion)",
                           opt_str(a, "-m") ? opt_str(a, "-m") : "-G");
    if ((rc = get_int(a, "-i", 1, 1000, &it))) return rc;
    if (opt_flag(a, "-g")) fprintf(stderr, "mvtool mobafit: -g noted: the fit runs on the CPU\n");
    if ((rc = cfl_load_mapped(a->pos[0], &enc, ed))) return rc;
    if ((rc = cfl_load_mapped(a->pos[1], &y, yd))) {
        mv_free(&enc);
        return rc;
    }
    T = yd[5], K = ed[6];
    rc = 0;
    for (ax = 0; ax < 16 && !rc; ax++)
        if (ax != 5 && ax != 6 && ed[ax] != 1) rc = usage_error(a, "ENC: the series along axis 5 and its coefficients along 6 only", a->pos[0]);
    if (!rc && ed[5] != T) rc = usage_error(a, "ENC and the images: not the same series length along axis 5 (bart asserts)", a->pos[0]);
    if (!rc && yd[6] != 1) rc = usage_error(a, "the images: axis 6 holds the coefficients (bart's COEFF_DIM), so 1", a->pos[1]);
    if (!rc && seq == 'T' && K != 1) rc = usage_error(a, "-T: one encoding (the echo times) along axis 6 (bart asserts)", a->pos[0]);
    if (!rc && (K < 1 || K > 15)) rc = usage_error(a, "ENC: 1 .. 15 coefficients along axis 6", a->pos[0]);
    if (!rc) {
        e = (float *)malloc((size_t)(2 * T * K) * sizeof(float));
        if (!e) rc = fail_at(mv_set_error(MV_ERR_OUT_OF_MEMORY, "mobafit: %lld encodings", (long long)(T * K)), a->pos[0]);
    }
    if (!rc) { /* TSE's model is e^{-TE R2}: bart negates the echo times */
        for (i = 0; i < 2 * T * K; i++) e[i] = ((const float *)enc.data)[i] * (seq == 'T' ? -1.f : 1.f);
        memcpy(xd, yd, sizeof(xd));
        xd[5] = 1, xd[6] = K + 1;
        for (ax = 0; ax < 5; ax++) nvox *= yd[ax];
        for (ax = 7; ax < 16; ax++) outer *= yd[ax];
        rc = alloc16(&x, xd, a->pos[2]);
    }
    for (b = 0; b < outer && !rc && st == MV_OK; b++)
        st = mv_exp_fit((const float *)y.data + 2 * b * nvox * T, nvox, T, e, (int)K, (int)it,
                        (float *)x.data + 2 * b * nvox * (K + 1), NULL);
    free(e);
    mv_free(&enc), mv_free(&y);
    if (rc) return rc;
    if (st != MV_OK) {
        mv_free(&x);
        return fail_at(st, a->pos[1]);
    }
    return cfl_save_dims(a->pos[2], &x, xd);
}

const command mvtool_mri_commands[] = {
    {"traj", "k-space trajectories, Cartesian or radial (bart traj, its bytes)",
     "mvtool traj [-x X] [-y Y] [-d D] [-e E] [-a A] [-t T] [-m M] [-l] [-g] [-r] [-G] [-H] [-s N] [-D]\n"
     "  [-o O] [-R DEG] [-q x:y:xy] [-Q z:xz:yz] [-O] [-3] [-c] [-E] [-z R:A] [-C FILE] [-V FILE]\n"
     "  [--golden-means] [--partitions Z] OUT\n"
     "  bart traj 0.8's flags: -r radial, -G golden angle, -H half circle, -s N tiny golden angle, -D 360\n"
     "  degrees, -c DC sampled, -3 3D, -e echoes, -E multi-echo spokes, -t turns, -m SMS partitions (-l\n"
     "  aligned, -g golden), -a Cartesian acceleration, -d full readout, -o oversampling, -R rotation,\n"
     "  -q/-Q/-V gradient delays (-O transverse), -C angles; medvol: golden means, stack of stars\n",
     "-x= -y= -d= -e= -a= -t= -m= -l -g -r -G -H -s= -D -o= -R= -q= -Q= -O -c -E -z= -C= -V= --golden-means "
     "--partitions=", 1, 2, cmd_traj},
    {"estdims", "the image size a trajectory implies (bart estdims)", "mvtool estdims TRAJ\n", "", 1, 1,
     cmd_estdims},
    {"estdelay", "gradient delays of radial data, AC-adaptive or RING (bart estdelay)",
     "mvtool estdelay [-R] [-p P] [-n N] [-r R] TRAJ DATA [QF]\n"
     "  prints x:y:xy for traj -q (bart's); -R RING with padding P (100), N orthogonal spokes per spoke (1)\n"
     "  and a central region of R samples (1.5); QF: the three delays as a .cfl\n",
     "-R -p= -n= -r=", 2, 3, cmd_estdelay},
    {"nufft", "non-uniform FFT, as bart nufft (.cfl)",
     "mvtool nufft [-a] [-d X:Y:Z] [--tol T] [--threads N] TRAJ IN OUT\n"
     "  forward: IN image (X, Y, Z, C) -> OUT k-space (1, S, P, C); -a adjoint: k-space -> image.\n"
     "  BART's scaling (1/sqrt(XYZ)), sign (forward exp(-i k.x)), DC at N/2; --tol 1e-6..0.1 (default 1e-3)\n"
     "  Frames: BART's axes 4..15 (TIME_DIM 10 too; those beyond medvol's 7 folded\n"
     "  on load), each of TRAJ's and IN's 1 or the other's as bart's; OUT gets BART's\n"
     "  16 sizes. A file shared along some of the axes 6..15 and not others is refused.\n",
     "-a -i -d= --tol= --threads=", 3, 3, cmd_nufft},
    {"signal", "analytical MR signal curves: FLASH, IR bSSFP, TSE, MOLLI, multi-echo (bart signal)",
     "mvtool signal [-F|-B|-T|-M|-G] [--fat] [-I] [-s] [-0 MIN:MAX:N] [-1 ..] [-2 ..] [-3 ..] [-r TR] [-e TE]\n"
     "              [-f FA] [-t T] [-n N] [-b BEATS] [--av-spokes K] OUT\n"
     "  bart signal: curves of N (100) samples along axis 5 for T1s along 6, T2s (or -3 Ms) along 7,\n"
     "  off-resonances along 8: FLASH Look-Locker (-F, the default; -I inversion, -s from the steady\n"
     "  state), IR bSSFP (-B -I), TSE (-T), MOLLI (-M, -b heart beats, -t T1 recovery s), multi gradient\n"
     "  echo (-G, --fat water and fat); TR and TE in s, FA in degrees; bart's defaults and bytes.\n",
     "-F -B -T -M -G --fat -I -s -0= -1= -2= -3= -r= -e= -f= -t= -n= -b= --av-spokes=", 1, 1, cmd_signal},
    {"epg", "extended phase graph simulation: CPMG, fmSSFP, hyperecho, FLASH, spin echo, bSSFP (bart epg)",
     "mvtool epg [-C|-M|-H|-F|-S|-B] [-1 T1] [-2 T2] [-b B1] [-o OFF] [-r TR] [-e TE] [-f FA] [-s SP] [-n N]\n"
     "           [-u U] [-v V] [--refocus DEG] [--seed S] SIGNAL [STATES] [SIGDER] [STATESDER]\n"
     "  bart epg (mv_epg): N echoes (10) along axis 5 of CPMG (-C, the default; --refocus its flip, 180),\n"
     "  fmSSFP (-M), hyperecho (-H, N odd), FLASH (-F; -s 0 ideal spoiling, 1 RF spoiling, 2 random RF\n"
     "  phases, glibc rand() after srand(--seed, 1) as bart's), spin echo (-S, N 1 or 2), bSSFP (-B); T1,\n"
     "  T2, TR, TE in one unit of time (0.8, 0.05, 0.005, 0.01), OFF in cycles per it, FA in degrees (15),\n"
     "  B1 relative (1). STATES: F+, F-, Z (axis 7) of each order (axis 6); SIGDER: T1, T2, B1 times the\n"
     "  derivative and d/dOFF (axis 8); STATESDER: the states' derivatives (axes 5 to 8). -v 1 with SIGDER\n"
     "  prints the Fisher information and the Cramer-Rao bounds of M0 and the unknowns -u (bits T1 1,\n"
     "  T2 2, B1 4, OFF 8; 3).\n"
     "  Derivatives for every sequence (bart: not -H, -S); B1's exact where bart's is B1 times it.\n",
     "-C -M -H -F -S -B -1= -2= -b= -o= -r= -e= -f= -s= -n= -u= -v= --refocus= --seed=", 1, 4, cmd_epg},
    {"looklocker", "T1 map from a Look-Locker fit's Mss, M0 and R1* (bart looklocker)",
     "mvtool looklocker [-t THRESHOLD] [-D DELAY] IN OUT\n"
     "  bart looklocker: IN holds the fit's Mss, M0, R1* along BART's axis 6; OUT (axis 6 of 1) the T1\n"
     "  M0 / (Mss R1*) + 2 DELAY (magnitudes; DELAY from the inversion's middle to the first excitation,\n"
     "  0), zero where |Mss| < THRESHOLD (0.2; bart's help says M0, its code and this compare Mss) or T1\n"
     "  is not a number.\n",
     "-t= -D=", 2, 2, cmd_looklocker},
    {"mobafit", "pixel-wise fits of exponential signal models: TSE's T2, diffusion (bart mobafit -T, -D)",
     "mvtool mobafit (-T|-D) [-i N] ENC ECHOES COEFFS\n"
     "  bart mobafit (mv_exp_fit): each voxel's series along BART's axis 5 fitted by rho e^{sum_k ENC_k x_k}\n"
     "  from zero by N Gauss-Newton steps (5), as bart's IRGNM. -T: ENC the echo times (axis 5), the\n"
     "  model rho e^{-TE R2}, COEFFS (rho, R2) along axis 6; -D: ENC's K columns along axis 6 (e.g. -b\n"
     "  per direction), COEFFS (rho, x_1 .. x_K). bart's default, the multi-echo gradient echo's\n"
     "  water/fat models (-G, -m), is not built; -g is noted (the CPU fits).\n",
     "-T -G -D -m= -i= -g", 3, 3, cmd_mobafit},
    {"wavepsf", "wave-CAIPI point spread function in hybrid space (bart wavepsf)",
     "mvtool wavepsf [-c] [-x RO] [-y PE] [-r RES] [-a ADC_US] [-t DT] [-g GMAX] [-s SMAX] [-n CYCLES] OUT\n"
     "  bart wavepsf: the PSF (RO, PE) of a sine (-c cosine) wave gradient of CYCLES (6) over the readout\n"
     "  of ADC_US microseconds (3000, a multiple of 10), amplitude GMAX G/cm (0.8) or slew-limited by SMAX\n"
     "  G/cm/s (17000), its phase per cm sinc-interpolated from ADC_US / 10 points to RO (512) by BART's\n"
     "  centred unitary FFTs, times -RES (y - PE/2) cm (RES 0.1, PE 128); DT the ADC's sampling time in s\n"
     "  (1e-5). For a 3D PSF, bart's recipe: -c for z, reshape, fmac.\n",
     "-c -x= -y= -r= -a= -t= -g= -s= -n=", 1, 1, cmd_wavepsf},
    {"twixread", "Siemens raw data (twix .dat, VB and VD/VE) to .cfl (bart twixread)",
     "mvtool twixread [-x X] [-y Y] [-z Z] [-s S] [-v V] [-c C] [-n N] [-r R] [-a A] [-A] [-L] [-P] [-M] [-d L] DAT OUT\n"
     "  bart twixread 0.8: the last scan's image ADCs placed by their counters in BART's axes\n"
     "  (samples 0, Lin 1, Par 2, channels 3, Eco 5, Phs 6, Rep 10, Set 11, Sli 13, Ave 14), the sizes\n"
     "  given (-x samples, -y lines, -z partitions, -s slices, -v averages, -c channels, -n repetitions;\n"
     "  1 where not) or found from the file (-A); -r R radial: (1, X, R, C, ...), partitions as slices;\n"
     "  -a the ADC count expected (0 or default: Y Z S N; -A: those found), -L / -P add CenterLin /\n"
     "  CenterPar to Lin / Par, -M BART's MPI mode. Noise, phase-correction, sync and feedback ADCs are\n"
     "  skipped by their DMA length, as are ADCs outside the sizes (noted on stderr). A file that ends\n"
     "  before ACQEND, a wrong ADC count or a malformed header is an error naming the byte offset.\n"
     "  -d 2: the header's kind, scans, patient and protocol and the ADC counts on stderr.\n",
     "-x= -y= -z= -s= -v= -c= -n= -r= -a= -A -L -P -M -d=", 2, 2, cmd_twixread},
    {"dcf", "density compensation weights of a trajectory (.cfl)",
     "mvtool dcf TRAJ OUT [--pipe-menon N]\n"
     "  weights (1, S, P) in k-space area units: analytic radial ramp, or N Pipe-Menon iterations\n"
     "  TRAJ's frames (BART's axes 4..15, TIME_DIM 10 too) kept: OUT has TRAJ's 16 sizes\n"
     "  with axis 0 of 1. Each frame its own weights (ramp and Pipe-Menon), as each\n"
     "  frame its own NUFFT plan.\n",
     "--pipe-menon=", 2, 2, cmd_dcf},
};
const int mvtool_mri_ncommands = (int)(sizeof(mvtool_mri_commands) / sizeof(mvtool_mri_commands[0]));
