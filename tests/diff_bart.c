/* diff_bart.c - one call of a medvol MRI function on BART .cfl files, for
   tests/py/diff_bart.py, which draws random cases and runs each through the
   bart command and through medvol (this driver, or build/mvtool where mvtool
   already takes BART's flags). Not a test on its own: the Python side
   decides.

   diff_bart load IN                  mv_cfl_load; prints the result (below)
   diff_bart copy IN OUT              mv_cfl_load, then mv_cfl_save to OUT
   diff_bart fftc MASK INV FORM IN OUT
                                      centred FFT over the axes in MASK (bit k =
                                      dims[k]), INV 0/1, ortho (bart fft -u [-i]):
                                      FORM 0 mv_fftc (allocating), 1 mv_fftc_into in
                                      place, 2 mv_fftc_into out of place, 3 a plan of
                                      mv_fft_plan_c2c (MV_FFT_ORTHO) + mv_fftc_execute_into
   diff_bart rss FORM IN OUT          root-sum-of-squares over dims[3] (bart rss 8):
                                      FORM 0 mv_rss (the coil axis removed, >>api-mri),
                                      1 mv_rss_into with IN's dims and dims[3] = 1
                                      (BART's output layout); OUT holds the float32
                                      result widened to complex64 (imaginary 0)
   diff_bart cc N IN OUT              mv_coil_compress to N virtual coils, calibration
                                      box 24 (bart cc -S -p N)
   diff_bart scale IN                 mv_bart_scale_estimate (bart pics's data scale
                                      without -S or -w); a second line "scale S"

   Every command prints one line: "ok NDIM D0 .. D{NDIM-1}" (the dims medvol
   read, or of its result) or "err STATUS DETAIL" (mv_status_str and
   mv_last_error) and exits 0; 2 is a usage error. */
#include "../medvol.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mv_status fftc_plan(const mv_vol *in, mv_vol *out, unsigned mask, int inverse)
{
    mv_fft_opts fo = MV_ZERO_INIT;
    mv_fft_plan *plan = NULL;
    void *scratch = NULL;
    mv_status st;
    fo.norm = MV_FFT_ORTHO;
    /* a plan takes explicit dims and axes below its ndim (>>api-fft): the
       mask's bits past ndim dropped as mv_fftc drops them, none left a copy */
    mask &= (1u << in->ndim) - 1u;
    if (!mask) return mv_vol_copy(in, out);
    st = mv_fft_plan_c2c(&plan, in->ndim, in->dim, mask, inverse, &fo);
    if (st == MV_OK) st = mv_vol_alloc(out, MV_DT_C64, in->ndim, in->dim, NULL);
    if (st == MV_OK) {
        size_t n = mv_fftc_scratch_size(plan);
        scratch = malloc(n ? n : 1);
        if (!scratch) st = mv_set_error(MV_ERR_OUT_OF_MEMORY, "diff_bart: scratch of %zu bytes", n);
    }
    if (st == MV_OK) st = mv_fftc_execute_into(plan, in->data, out->data, scratch);
    free(scratch);
    mv_fft_plan_free(plan);
    return st;
}

int main(int argc, char **argv)
{
    mv_vol in, out, c;
    const mv_vol *res = &in; /* the volume whose dims are printed */
    double scale = 0;
    mv_status st;
    const char *cmd = argc > 1 ? argv[1] : "";
    mv_vol_init(&in);
    mv_vol_init(&out);
    mv_vol_init(&c);
    if (!strcmp(cmd, "load") && argc == 3) {
        st = mv_cfl_load(argv[2], &in, NULL);
    } else if (!strcmp(cmd, "copy") && argc == 4) {
        st = mv_cfl_load(argv[2], &in, NULL);
        if (st == MV_OK) st = mv_cfl_save(argv[3], &in, NULL);
    } else if (!strcmp(cmd, "fftc") && argc == 7) {
        unsigned mask = (unsigned)strtoul(argv[2], NULL, 0);
        int inverse = atoi(argv[3]), form = atoi(argv[4]);
        st = mv_cfl_load(argv[5], &in, NULL);
        if (st == MV_OK) {
            if (form == 0) st = mv_fftc(&in, &out, mask, inverse, NULL);
            else if (form == 1) st = mv_fftc_into(&in, &in, mask, inverse, NULL);
            else if (form == 2) {
                st = mv_vol_alloc(&out, MV_DT_C64, in.ndim, in.dim, NULL);
                if (st == MV_OK) st = mv_fftc_into(&in, &out, mask, inverse, NULL);
            } else st = fftc_plan(&in, &out, mask, inverse);
        }
        if (form != 1) res = &out;
        if (st == MV_OK) st = mv_cfl_save(argv[6], res, NULL);
    } else if (!strcmp(cmd, "rss") && argc == 5) {
        int form = atoi(argv[2]);
        st = mv_cfl_load(argv[3], &in, NULL);
        if (st == MV_OK && form == 0) st = mv_rss(&in, &out, NULL);
        else if (st == MV_OK) {
            int64_t d[MV_MAX_DIMS];
            int k, nd = in.ndim > 4 ? in.ndim : 4;
            for (k = 0; k < nd; k++) d[k] = k < in.ndim && k != MV_COIL_AXIS ? in.dim[k] : 1;
            st = mv_vol_alloc(&out, MV_DT_F32, nd, d, NULL);
            if (st == MV_OK) st = mv_rss_into(&in, &out, NULL);
        }
        if (st == MV_OK) st = mv_vol_alloc(&c, MV_DT_C64, out.ndim, out.dim, NULL);
        if (st == MV_OK) {
            const float *r = (const float *)out.data;
            float *z = (float *)c.data;
            int64_t i, n = mv_vol_count(&out);
            for (i = 0; i < n; i++) {
                z[2 * i] = r[i];
                z[2 * i + 1] = 0.0f;
            }
            st = mv_cfl_save(argv[4], &c, NULL);
        }
        res = &c;
    } else if (!strcmp(cmd, "cc") && argc == 5) {
        st = mv_cfl_load(argv[3], &in, NULL);
        if (st == MV_OK) st = mv_coil_compress(&in, atoi(argv[2]), 0, &out, NULL, NULL);
        if (st == MV_OK) st = mv_cfl_save(argv[4], &out, NULL);
        res = &out;
    } else if (!strcmp(cmd, "scale") && argc == 3) {
        st = mv_cfl_load(argv[2], &in, NULL);
        if (st == MV_OK) st = mv_bart_scale_estimate(&in, &scale, NULL);
    } else {
        fprintf(stderr, "usage: see tests/diff_bart.c\n");
        return 2;
    }
    if (st == MV_OK) {
        int k;
        printf("ok %d", res->ndim);
        for (k = 0; k < res->ndim; k++) printf(" %lld", (long long)res->dim[k]);
        printf("\n");
        if (!strcmp(cmd, "scale")) printf("scale %.9g\n", scale);
    } else {
        printf("err %s %s\n", mv_status_str(st), mv_last_error());
    }
    mv_free(&in);
    mv_free(&out);
    mv_free(&c);
    return 0;
}
