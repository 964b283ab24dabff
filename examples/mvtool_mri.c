/* mvtool_mri.c - the mri family of mvtool: BART-compatible non-Cartesian
   commands on .cfl/.hdr pairs (medvol.h >>api-nufft): traj (bart traj,
   every option), estdims, estdelay (bart estdims, estdelay), nufft (bart
   nufft), dcf (density compensation, which BART lacks) and signal (bart
   signal's analytical relaxation curves, its bytes).
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
    {"dcf", "density compensation weights of a trajectory (.cfl)",
     "mvtool dcf TRAJ OUT [--pipe-menon N]\n"
     "  weights (1, S, P) in k-space area units: analytic radial ramp, or N Pipe-Menon iterations\n"
     "  TRAJ's frames (BART's axes 4..15, TIME_DIM 10 too) kept: OUT has TRAJ's 16 sizes\n"
     "  with axis 0 of 1. Each frame its own weights (ramp and Pipe-Menon), as each\n"
     "  frame its own NUFFT plan.\n",
     "--pipe-menon=", 2, 2, cmd_dcf},
};
const int mvtool_mri_ncommands = (int)(sizeof(mvtool_mri_commands) / sizeof(mvtool_mri_commands[0]));
