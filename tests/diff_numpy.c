/* diff_numpy.c - one call of a medvol FFT or spatial function on a raw
   file, for tests/py/diff_numpy.py, which draws random cases and compares
   each output with numpy.fft (FFT) or nibabel (spatial). Not a test on its
   own: the Python side decides.

   diff_numpy fft KIND NDIM D0..Dn-1 AXES INVERSE NORM FORM THREADS IN OUT
     KIND  c2c | r2c | c2r | fftc; dims are the REAL dims for r2c / c2r (IN,
           resp. OUT, is complex with dims[h] / 2 + 1, h = the lowest bit of
           AXES); AXES the bit mask (bit k = dims[k]); NORM mv_fft_norm.
     FORM  0 one call (mv_fft_c2c / r2c / c2r; fftc: mv_fftc on a volume,
             ortho whatever NORM says), after one-call transforms that
             differ in one key of the plan cache (norm, direction,
             threads, axes)
           1 plan + mv_fft_execute (fftc: mv_fftc_execute_into)
           2 plan + mv_fft_execute_into with the caller's scratch
           3 measured plan (opts.measure = 1) + mv_fft_execute
           4 in place (c2c: plan + mv_fft_execute with in == out; fftc:
             mv_fftc_execute_into in place; else as 1)
           5 fftc only: mv_fftc_into in place on a volume (ortho)
     THREADS opts.threads (0 = library default).
     Prints "consistent 1" when the output's bytes equal those of the
     reference form (plan + mv_fft_execute, one thread, estimated, out of
     place; fftc: mv_fftc_execute_into with that plan), as >>api-fft
     promises within one ISA, else "consistent 0"; then "input_kept 1"
     when IN's bytes are unchanged after both calls (>>api-fft: "The input
     is never modified (out of place)").

   diff_numpy spatial OP DTYPE NDIM D0..Dn-1 A00..A23 S0 S1 S2 FORM ARGS... IN OUT
     The input volume has the dims, the affine rows 0..2 and the spacing
     S0..S2 of its first three axes; DTYPE a numpy name (uint8, int16,
     float32, complex64, ...), rgb24 or rgba32.
     OP ARGS:
       orient                       mv_orientation + mv_io_orientation (no IN read, no OUT)
       reorient CODE                mv_reorient
       flip MASK                    mv_flip
       permute P0 P1 P2             mv_permute
       croppad S0 S1 S2 FILL        mv_crop_or_pad
       box B0 B1 B2 Z0 Z1 Z2 FILL   mv_crop_pad_box
       rot90 K AX0 AX1              mv_rot90
       spacing X Y Z INTERP         mv_resample_spacing (allocating only)
     FORM 0: the allocating form; FORM 1: the _into form, then two more
     arguments before IN OUT: ONDIM and "D0xD1x..." (the output's dims).
     Prints "dtype NAME" (mv_dtype_name) and the output's "ndim d0 d1 ...",
     "affine" and 12 numbers, "spacing" and 3 numbers; orient prints
     "code XYZ" and "ornt a s a s a s" (world axis and sign per voxel axis).
   diff_numpy info
     Prints mv_build_info() (the ISA levels compiled and active).
   DIFF_NUMPY_ISA=ref|sse2|avx2|avx512|neon (mv_isa_name) forces that
   level with mv_set_isa for every call.
   Raw files: dims[0] fastest (numpy's C order of the reversed dims).
   Exit 0 and OUT written, or non-zero with medvol's message on stderr. */
#include "../medvol.h"
#include "diff_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what)
{
    fprintf(stderr, "diff_numpy: %s: %s\n", what, mv_last_error());
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: see tests/diff_numpy.c\n");
    return 2;
}

/* ---- fft ---- */

/* One-call transforms that differ from the case's in a single key of the
   plan cache (norm, direction, threads, axes), run first, so the cache
   holds neighbours of the plan the case then takes from it. fftc shares
   the c2c plans (ortho). */
static mv_status siblings(int kind, int ndim, const int64_t *dims, int64_t nreal, unsigned axes, int inverse,
                          const mv_fft_opts *o)
{
    void *sin = calloc((size_t)nreal * 2 + 2, 8), *sout = calloc((size_t)nreal * 2 + 2, 8);
    mv_status st = MV_OK;
    int v;
    if (!sin || !sout) st = MV_ERR_OUT_OF_MEMORY;
    for (v = 0; v < 4 && st == MV_OK; v++) {
        mv_fft_opts so = *o;
        int sinv = inverse;
        unsigned sax = axes;
        if (v == 0) so.norm = (mv_fft_norm)((o->norm + 1) % 3);
        if (v == 1) sinv = !inverse;
        if (v == 2) so.threads = o->threads == 1 ? 2 : 1;
        if (v == 3) sax = axes ^ (1u << (ndim - 1)) ? axes ^ (1u << (ndim - 1)) : axes ^ 1u;
        if (sax == 0 || sax >= (1u << ndim)) continue;
        if (kind == 0 || kind == 3) st = mv_fft_c2c(sin, sout, ndim, dims, sax, sinv, &so);
        else if (kind == 1) st = mv_fft_r2c((const float *)sin, sout, ndim, dims, sax, &so);
        else st = mv_fft_c2r(sin, (float *)sout, ndim, dims, sax, &so);
    }
    free(sin);
    free(sout);
    return st;
}

static int run_fft(int argc, char **argv)
{
    static const char *kinds[] = {"c2c", "r2c", "c2r", "fftc"};
    int kind, ndim, a, h = 0, inverse, form, rc = 0;
    int64_t dims[MV_MAX_DIMS], cdims[MV_MAX_DIMS], nreal = 1, ncplx = 1;
    unsigned axes;
    size_t in_bytes, out_bytes;
    mv_fft_opts o, ro;
    mv_fft_plan *plan = NULL, *rplan = NULL;
    void *in = NULL, *out = NULL, *ref = NULL, *keep = NULL, *scratch = NULL;
    mv_status st = MV_OK;
    if (argc < 4) return usage();
    for (kind = 0; kind < 4 && strcmp(argv[2], kinds[kind]) != 0; kind++) {}
    ndim = atoi(argv[3]);
    if (kind == 4 || ndim < 1 || ndim > MV_MAX_DIMS || argc != 4 + ndim + 7) return usage();
    for (a = 0; a < ndim; a++) dims[a] = cdims[a] = atoll(argv[4 + a]);
    axes = (unsigned)strtoul(argv[4 + ndim], NULL, 0);
    inverse = atoi(argv[5 + ndim]);
    memset(&o, 0, sizeof(o));
    o.norm = (mv_fft_norm)atoi(argv[6 + ndim]);
    form = atoi(argv[7 + ndim]);
    o.threads = atoi(argv[8 + ndim]);
    if (axes == 0 || dims[0] < 1) return usage();
    while (!(axes & (1u << h))) h++;
    if (h >= ndim) return usage();
    if (kind == 1 || kind == 2) cdims[h] = dims[h] / 2 + 1;
    for (a = 0; a < ndim; a++) {
        if (dims[a] < 1) return usage();
        nreal *= dims[a];
        ncplx *= cdims[a];
    }
    in_bytes = (size_t)(kind == 1 ? nreal * 4 : ncplx * 8);
    out_bytes = (size_t)(kind == 2 ? nreal * 4 : ncplx * 8);
    /* one buffer big enough for either side, so in place fits */
    in = malloc(in_bytes > out_bytes ? in_bytes : out_bytes);
    out = malloc(in_bytes > out_bytes ? in_bytes : out_bytes);
    ref = malloc(out_bytes);
    keep = malloc(in_bytes);
    if (!in || !out || !ref || !keep) {
        fprintf(stderr, "diff_numpy: out of memory\n");
        return 1;
    }
    if (!diff_read_exact(argv[argc - 2], in, in_bytes) || !diff_read_exact(argv[argc - 2], keep, in_bytes)) {
        fprintf(stderr, "diff_numpy: reading %s\n", argv[argc - 2]);
        return 1;
    }
    /* the reference form: one thread, estimated, out of place */
    ro = o;
    ro.threads = 1;
    ro.measure = 0;
    if (kind == 3 && (form == 0 || form == 5)) ro.norm = MV_FFT_ORTHO; /* the volume forms' norm */
    if (kind == 1) st = mv_fft_plan_r2c(&rplan, ndim, dims, axes, &ro);
    else if (kind == 2) st = mv_fft_plan_c2r(&rplan, ndim, dims, axes, &ro);
    else st = mv_fft_plan_c2c(&rplan, ndim, dims, axes, inverse, &ro);
    if (st != MV_OK) return fail("reference plan");
    if (kind == 3) {
        void *s = malloc(mv_fftc_scratch_size(rplan) + 1);
        if (!s) return fail("scratch");
        st = mv_fftc_execute_into(rplan, in, ref, s);
        free(s);
    } else {
        st = mv_fft_execute(rplan, in, ref);
    }
    if (st != MV_OK) return fail("reference execute");
    if (form == 3) o.measure = 1;
    if (form == 0 && siblings(kind, ndim, dims, nreal, axes, inverse, &o) != MV_OK) return fail("sibling transform");
    if (kind == 3 && (form == 0 || form == 5)) { /* on volumes: ortho */
        mv_vol vi, vo;
        mv_mri_opts mo;
        memset(&mo, 0, sizeof(mo));
        mo.threads = o.threads;
        if (mv_vol_wrap(&vi, in, MV_DT_C64, ndim, dims) != MV_OK) return fail("wrap");
        if (form == 5) {
            st = mv_fftc_into(&vi, &vi, axes, inverse, &mo);
            memcpy(out, in, out_bytes);
        } else {
            mv_vol_init(&vo);
            st = mv_fftc(&vi, &vo, axes, inverse, &mo);
            if (st == MV_OK) {
                if (vo.dtype != MV_DT_C64 || vo.ndim != ndim || memcmp(vo.dim, dims, sizeof(int64_t) * (size_t)ndim)) {
                    fprintf(stderr, "diff_numpy: mv_fftc: output is not c64 of the input's dims\n");
                    return 1;
                }
                memcpy(out, vo.data, out_bytes);
            }
            mv_free(&vo);
        }
    } else if (form == 0) {
        if (kind == 0) st = mv_fft_c2c(in, out, ndim, dims, axes, inverse, &o);
        else if (kind == 1) st = mv_fft_r2c((const float *)in, out, ndim, dims, axes, &o);
        else st = mv_fft_c2r(in, (float *)out, ndim, dims, axes, &o);
    } else {
        int in_place = form == 4 && (kind == 0 || kind == 3);
        if (kind == 1) st = mv_fft_plan_r2c(&plan, ndim, dims, axes, &o);
        else if (kind == 2) st = mv_fft_plan_c2r(&plan, ndim, dims, axes, &o);
        else st = mv_fft_plan_c2c(&plan, ndim, dims, axes, inverse, &o);
        if (st != MV_OK) return fail("plan");
        if (in_place) memcpy(out, in, in_bytes);
        if (kind == 3 || form == 2) {
            size_t n = kind == 3 ? mv_fftc_scratch_size(plan) : mv_fft_scratch_size(plan);
            scratch = malloc(n + 1);
            if (!scratch) return fail("scratch");
        }
        if (kind == 3) st = mv_fftc_execute_into(plan, in_place ? out : in, out, scratch);
        else if (form == 2) st = mv_fft_execute_into(plan, in, out, scratch);
        else st = mv_fft_execute(plan, in_place ? out : in, out);
    }
    if (st != MV_OK) return fail("fft");
    if (!diff_write_exact(argv[argc - 1], out, out_bytes)) {
        fprintf(stderr, "diff_numpy: writing %s\n", argv[argc - 1]);
        rc = 1;
    }
    printf("consistent %d\ninput_kept %d\n", memcmp(out, ref, out_bytes) == 0, memcmp(in, keep, in_bytes) == 0);
    mv_fft_plan_free(plan);
    mv_fft_plan_free(rplan);
    free(scratch);
    free(in);
    free(out);
    free(ref);
    free(keep);
    return rc;
}

/* ---- spatial ---- */

static void print_geometry(const mv_vol *v)
{
    int a, r;
    printf("%d", v->ndim);
    for (a = 0; a < v->ndim; a++) printf(" %lld", (long long)v->dim[a]);
    printf("\naffine");
    for (r = 0; r < 3; r++)
        for (a = 0; a < 4; a++) printf(" %.17g", v->affine[r][a]);
    printf("\nspacing %.17g %.17g %.17g\n", v->spacing[0], v->spacing[1], v->spacing[2]);
}

static int run_spatial(int argc, char **argv)
{
    static const struct {
        const char *name;
        int nargs;
    } ops[] = {{"orient", 0}, {"reorient", 1}, {"flip", 1}, {"permute", 3},
               {"croppad", 4}, {"box", 7},     {"rot90", 3}, {"spacing", 4}};
    int op, ndim, a, r, form, k, nops = (int)(sizeof(ops) / sizeof(ops[0]));
    int64_t dims[MV_MAX_DIMS];
    mv_dtype dt;
    mv_vol in, out;
    mv_spatial_opts so;
    mv_status st = MV_OK;
    char **p; /* the op's arguments */
    if (argc < 5) return usage();
    for (op = 0; op < nops && strcmp(argv[2], ops[op].name) != 0; op++) {}
    dt = mv_dtype_from_name(argv[3]);
    ndim = atoi(argv[4]);
    if (op == nops || dt == MV_DT_UNKNOWN || ndim < 1 || ndim > MV_MAX_DIMS || argc < 5 + ndim + 12 + 3 + 1) return usage();
    for (a = 0; a < ndim; a++) dims[a] = atoll(argv[5 + a]);
    k = 5 + ndim;
    form = atoi(argv[k + 15]);
    if (argc != k + 16 + ops[op].nargs + (form == 1 ? 2 : 0) + (op == 0 ? 0 : 2)) return usage();
    p = argv + k + 16;
    if (op == 0) { /* orientation: geometry only */
        char code[4];
        int wa[3], sg[3];
        mv_vol_init(&in);
        for (r = 0; r < 3; r++)
            for (a = 0; a < 4; a++) in.affine[r][a] = atof(argv[k + 4 * r + a]);
        if (mv_orientation(&in, code) != MV_OK) return fail("mv_orientation");
        if (mv_io_orientation(&in, wa, sg) != MV_OK) return fail("mv_io_orientation");
        printf("code %s\nornt %d %d %d %d %d %d\n", code, wa[0], sg[0], wa[1], sg[1], wa[2], sg[2]);
        return 0;
    }
    if (mv_vol_alloc(&in, dt, ndim, dims, NULL) != MV_OK) return fail("input");
    for (r = 0; r < 3; r++)
        for (a = 0; a < 4; a++) in.affine[r][a] = atof(argv[k + 4 * r + a]);
    for (a = 0; a < 3; a++) in.spacing[a] = atof(argv[k + 12 + a]);
    if (!diff_read_exact(argv[argc - 2], in.data, mv_vol_bytes(&in))) {
        fprintf(stderr, "diff_numpy: reading %s\n", argv[argc - 2]);
        return 1;
    }
    memset(&so, 0, sizeof(so));
    mv_vol_init(&out);
    if (form == 1) { /* _into: the output the reference expects */
        int64_t od[MV_MAX_DIMS];
        int ond = atoi(argv[argc - 4]);
        char *s = argv[argc - 3];
        if (ond < 1 || ond > MV_MAX_DIMS || op == 7) return usage();
        for (a = 0; a < ond; a++) {
            od[a] = strtoll(s, &s, 10);
            if (*s == 'x') s++;
        }
        if (mv_vol_alloc(&out, dt, ond, od, NULL) != MV_OK) return fail("output");
    }
    switch (op) {
    case 1: st = form ? mv_reorient_into(&in, &out, p[0], &so) : mv_reorient(&in, &out, p[0], &so); break;
    case 2: {
        unsigned m = (unsigned)strtoul(p[0], NULL, 0);
        st = form ? mv_flip_into(&in, &out, m, &so) : mv_flip(&in, &out, m, &so);
        break;
    }
    case 3: {
        const int perm[3] = {atoi(p[0]), atoi(p[1]), atoi(p[2])};
        st = form ? mv_permute_into(&in, &out, perm, &so) : mv_permute(&in, &out, perm, &so);
        break;
    }
    case 4: {
        const int64_t s[3] = {atoll(p[0]), atoll(p[1]), atoll(p[2])};
        so.fill = atof(p[3]);
        st = form ? mv_crop_or_pad_into(&in, &out, s, &so) : mv_crop_or_pad(&in, &out, s, &so);
        break;
    }
    case 5: {
        const int64_t b[3] = {atoll(p[0]), atoll(p[1]), atoll(p[2])};
        const int64_t s[3] = {atoll(p[3]), atoll(p[4]), atoll(p[5])};
        so.fill = atof(p[6]);
        st = form ? mv_crop_pad_box_into(&in, &out, b, s, &so) : mv_crop_pad_box(&in, &out, b, s, &so);
        break;
    }
    case 6:
        st = form ? mv_rot90_into(&in, &out, atoi(p[0]), atoi(p[1]), atoi(p[2]), &so)
                  : mv_rot90(&in, &out, atoi(p[0]), atoi(p[1]), atoi(p[2]), &so);
        break;
    default: {
        const double sp[3] = {atof(p[0]), atof(p[1]), atof(p[2])};
        mv_resample_opts ro;
        memset(&ro, 0, sizeof(ro));
        ro.interp = (mv_interp)atoi(p[3]);
        st = mv_resample_spacing(&in, &out, sp, &ro);
        break;
    }
    }
    if (st != MV_OK) return fail(argv[2]);
    if (!diff_write_exact(argv[argc - 1], out.data, mv_vol_bytes(&out))) {
        fprintf(stderr, "diff_numpy: writing %s\n", argv[argc - 1]);
        return 1;
    }
    printf("dtype %s\n", mv_dtype_name(out.dtype));
    print_geometry(&out);
    mv_free(&out);
    mv_free(&in);
    return 0;
}

int main(int argc, char **argv)
{
    const char *isa = getenv("DIFF_NUMPY_ISA"); /* a test's knob; the library reads no environment */
    if (isa && *isa) {
        int i;
        for (i = 0; i < (int)MV_ISA_COUNT && strcmp(isa, mv_isa_name((mv_isa)i)) != 0; i++) {}
        if (i == (int)MV_ISA_COUNT || mv_set_isa((mv_isa)i) != MV_OK) {
            fprintf(stderr, "diff_numpy: DIFF_NUMPY_ISA=%s is not available here\n", isa);
            return 2;
        }
    }
    if (argc == 2 && strcmp(argv[1], "info") == 0) {
        printf("%s\n", mv_build_info());
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "fft") == 0) return run_fft(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "spatial") == 0) return run_spatial(argc, argv);
    return usage();
}
