/* diff_sitk.c - one call of medvol's registration-output API (transform
   files, warps, displacement fields) on raw float32 / NIfTI files, for
   tests/py/diff_sitk.py, which draws random cases (oblique, flipped and
   permuted grids with axes of length 1, general and near-identity affines,
   smooth fields, 2D and 3D) and compares each result with SimpleITK's.
   Not a test on its own: the Python side decides.

   diff_sitk tfm-write MAT NDIM OUT.tfm      mv_matrix_read + mv_itk_tfm_write (OUT.mat: mv_itk_mat_write,
                                             OUT.h5: mv_itk_h5_write)
   diff_sitk tfm-read IN.tfm OUT.mat         mv_itk_tfm_read (text or MATLAB) + mv_matrix_write
   diff_sitk warp MOV.raw MX MY MZ MT MAFF RX RY RZ RAFF MAT INTERP FILL_OUTSIDE FILL OUT.raw
                                             mv_warp_affine onto the grid (RX RY RZ, RAFF)
   diff_sitk fwarp MOV.raw MX MY MZ MT MAFF FIELD.nii MAT|- INTERP FILL_OUTSIDE FILL OUT.raw
                                             mv_field_load + mv_field_warp (MAT '-': NULL)
                                             (MT frames: a 4D moving image when MT > 1)
   diff_sitk fsave GX GY GZ GAFF NC IN.raw OUT.nii
                                             mv_field_alloc on the grid, IN's components
                                             (NC x X*Y*Z float32), mv_field_save
   diff_sitk fsave GX GY GZ GAFF NC IN.raw OUT.h5 [MAT]
                                             the same field by mv_itk_h5_write_field (after
                                             the matrix MAT: a composite), deflate level
                                             $DIFF_H5_LEVEL (default 0)
   diff_sitk fload IN.nii OUT.raw OUT.mat    mv_field_load; prints X Y Z NC; writes the
                                             components and the affine
   diff_sitk h5-field IN.h5 OUT.raw OUT.aff OUT.mat
                                             mv_itk_h5_read_field; prints X Y Z NC (0s: no
                                             field); the components, the field's affine, m
   diff_sitk chain IN PTS.raw N OUT.raw [GX GY GZ GAFF FIELD.raw]
                                             mv_itk_transform_read (.tfm, .mat or .h5, B-splines
                                             too) + mv_elastix_point of N RAS points (float64
                                             x y z each) and, with a grid, mv_elastix_field on
                                             it (its components as the field holds them)
   diff_sitk fsample FIELD.nii QX QY QZ QAFF OUT.raw
                                             the field at the nodes of grid Q:
                                             mv_field_compose_into(field, zero field on Q)
   diff_sitk compose D1.nii D2.nii OUT.nii   mv_field_compose_into(d1, d2) on d2's grid
   diff_sitk addaff IN.nii MAT USE_IN OUT.nii
                                             mv_field_add_affine_into(USE_IN ? in : NULL, MAT)
                                             on IN's grid
   diff_sitk invert IN.nii MAX_ITER TOL OUT.nii
                                             mv_field_invert_into; prints iterations,
                                             max and mean residual (%.17g)
   diff_sitk jac IN.nii OUT.raw              mv_field_jacobian (float32 X*Y*Z)
   diff_sitk mha-load IN OUT.raw OUT.mat [OUT.kv]
                                             mv_load of any file (a MetaImage here); prints
                                             "DTYPE NDIM D0 .. D(NDIM-1) INTENT"; writes the
                                             voxels as loaded and the affine, and the
                                             key/value pairs, a line "HEXKEY HEXVALUE" each
                                             (empty: "-")
   diff_sitk convert IN OUT COMPRESS LEVEL   mv_load + mv_save (opts.compress, gzip.level)

   MAT, MAFF, RAFF, GAFF, QAFF: 4x4 RAS-mm text files (mv_matrix_read).
   Raw files: x fastest (numpy's (Z, Y, X) C order), float32, an axis of
   length 1 for 2D (MZ = 1). Exit 0 and OUT written; 3 with
   "STATUS: detail" on stderr when medvol returns a status; 2 usage; 4 the
   driver's own file I/O. */
#include "../medvol.h"
#include "diff_io.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status_fail(const char *what, mv_status st)
{
    fprintf(stderr, "diff_sitk: %s: %s: %s\n", what, mv_status_str(st), mv_last_error());
    return 3;
}

static int io_fail(const char *what, const char *path)
{
    fprintf(stderr, "diff_sitk: %s %s failed\n", what, path);
    return 4;
}

/* A volume of dims (x, y, z[, t]) whose geometry is the 4x4 text file aff:
   a uint8 grid (raw == NULL) or float32 data read from raw; nt NULL or "1"
   for 3D, else a 4D volume of nt frames. */
static int grid_vol(mv_vol *v, const char *nx, const char *ny, const char *nz, const char *nt, const char *aff,
                    const char *raw, const char *what)
{
    int64_t d[4];
    double A[4][4];
    mv_status st;
    int a, r;
    d[0] = atoll(nx);
    d[1] = atoll(ny);
    d[2] = atoll(nz);
    d[3] = nt ? atoll(nt) : 1;
    mv_vol_init(v);
    st = mv_matrix_read(aff, A);
    if (st != MV_OK) return status_fail(what, st);
    st = mv_vol_alloc(v, raw ? MV_DT_F32 : MV_DT_U8, d[3] > 1 ? 4 : 3, d, NULL);
    if (st != MV_OK) return status_fail(what, st);
    memcpy(v->affine, A, sizeof(A));
    for (a = 0; a < 3; a++) {
        double s = 0;
        for (r = 0; r < 3; r++) s += A[r][a] * A[r][a];
        v->spacing[a] = sqrt(s);
    }
    if (raw && !diff_read_exact(raw, v->data, mv_vol_bytes(v))) return io_fail("reading", raw);
    return 0;
}

static int save_field(const char *path, const mv_vol *f, const char *what)
{
    mv_status st = mv_field_save(path, f, NULL);
    return st == MV_OK ? 0 : status_fail(what, st);
}

static int load_field(const char *path, mv_vol *f, const char *what)
{
    mv_status st;
    mv_vol_init(f);
    st = mv_field_load(path, f, NULL);
    return st == MV_OK ? 0 : status_fail(what, st);
}

static int cmd_tfm(int argc, char **argv)
{
    double m[4][4];
    mv_status st;
    if (!strcmp(argv[1], "tfm-write")) {
        if (argc != 5) return 2;
        st = mv_matrix_read(argv[2], m);
        if (st != MV_OK) return status_fail("mv_matrix_read", st);
        {
            size_t n = strlen(argv[4]);
            int mat = n > 4 && !strcmp(argv[4] + n - 4, ".mat"), h5 = n > 3 && !strcmp(argv[4] + n - 3, ".h5");
            st = mat  ? mv_itk_mat_write(argv[4], (const double(*)[4])m, atoi(argv[3]))
                 : h5 ? mv_itk_h5_write(argv[4], (const double(*)[4])m, atoi(argv[3]))
                      : mv_itk_tfm_write(argv[4], (const double(*)[4])m, atoi(argv[3]));
            return st == MV_OK ? 0 : status_fail(mat ? "mv_itk_mat_write" : h5 ? "mv_itk_h5_write" : "mv_itk_tfm_write", st);
        }
    }
    if (argc != 4) return 2;
    st = mv_itk_tfm_read(argv[2], m);
    if (st != MV_OK) return status_fail("mv_itk_tfm_read", st);
    st = mv_matrix_write(argv[3], (const double(*)[4])m);
    return st == MV_OK ? 0 : status_fail("mv_matrix_write", st);
}

/* warp and fwarp: the moving image, the options, the output */
static int cmd_warp(int argc, char **argv, int field)
{
    mv_vol mov, ref, fld, out;
    double M[4][4];
    const char *mat = argv[field ? 9 : 12];
    int use_mat = strcmp(mat, "-") != 0, rc, o = field ? 10 : 13;
    mv_status st;
    if (argc != (field ? 14 : 17)) return 2;
    rc = grid_vol(&mov, argv[3], argv[4], argv[5], argv[6], argv[7], argv[2], "moving");
    if (rc) return rc;
    if (use_mat) {
        st = mv_matrix_read(mat, M);
        if (st != MV_OK) return status_fail("mv_matrix_read", st);
    }
    mv_vol_init(&out);
    if (field) {
        mv_field_opts fo;
        memset(&fo, 0, sizeof(fo));
        fo.interp = (mv_interp)atoi(argv[o]);
        fo.fill_outside = atoi(argv[o + 1]);
        fo.fill = atof(argv[o + 2]);
        rc = load_field(argv[8], &fld, "mv_field_load");
        if (rc) return rc;
        st = mv_field_warp(&mov, &fld, use_mat ? (const double(*)[4])M : NULL, &out, &fo);
        if (st != MV_OK) return status_fail("mv_field_warp", st);
        mv_free(&fld);
    } else {
        mv_resample_opts ro;
        memset(&ro, 0, sizeof(ro));
        ro.interp = (mv_interp)atoi(argv[o]);
        ro.fill_outside = atoi(argv[o + 1]);
        ro.fill = atof(argv[o + 2]);
        rc = grid_vol(&ref, argv[8], argv[9], argv[10], NULL, argv[11], NULL, "ref");
        if (rc) return rc;
        if (!use_mat) return 2;
        st = mv_warp_affine(&mov, &ref, (const double(*)[4])M, &out, &ro);
        if (st != MV_OK) return status_fail("mv_warp_affine", st);
        mv_free(&ref);
    }
    if (out.dtype != MV_DT_F32) {
        fprintf(stderr, "diff_sitk: output dtype %s, float32 expected\n", mv_dtype_name(out.dtype));
        return 4;
    }
    if (!diff_write_exact(argv[argc - 1], out.data, mv_vol_bytes(&out))) return io_fail("writing", argv[argc - 1]);
    mv_free(&out);
    mv_free(&mov);
    return 0;
}

static int cmd_fsave(int argc, char **argv)
{
    mv_vol grid, f;
    mv_status st;
    double m[4][4];
    size_t n;
    int rc;
    if (argc != 9 && argc != 10) return 2;
    rc = grid_vol(&grid, argv[2], argv[3], argv[4], NULL, argv[5], NULL, "grid");
    if (rc) return rc;
    mv_vol_init(&f);
    st = mv_field_alloc(&f, &grid, atoi(argv[6]), NULL);
    if (st != MV_OK) return status_fail("mv_field_alloc", st);
    if (!diff_read_exact(argv[7], f.data, mv_vol_bytes(&f))) return io_fail("reading", argv[7]);
    n = strlen(argv[8]);
    if (n > 3 && !strcmp(argv[8] + n - 3, ".h5")) { /* ITK's .h5: the field alone, or after MAT */
        st = argc == 10 ? mv_matrix_read(argv[9], m) : MV_OK;
        if (st == MV_OK)
            st = mv_itk_h5_write_field(argv[8], argc == 10 ? (const double(*)[4])m : NULL, &f,
                                       getenv("DIFF_H5_LEVEL") ? atoi(getenv("DIFF_H5_LEVEL")) : 0);
        rc = st == MV_OK ? 0 : status_fail("mv_itk_h5_write_field", st);
    } else {
        rc = save_field(argv[8], &f, "mv_field_save");
    }
    mv_free(&f);
    mv_free(&grid);
    return rc;
}

static int cmd_fload(int argc, char **argv)
{
    mv_vol f;
    mv_status st;
    int rc;
    if (argc != 5) return 2;
    rc = load_field(argv[2], &f, "mv_field_load");
    if (rc) return rc;
    printf("%lld %lld %lld %lld\n", (long long)f.dim[0], (long long)f.dim[1], (long long)f.dim[2],
           (long long)f.dim[4]);
    if (!diff_write_exact(argv[3], f.data, mv_vol_bytes(&f))) return io_fail("writing", argv[3]);
    st = mv_matrix_write(argv[4], (const double(*)[4])f.affine);
    mv_free(&f);
    return st == MV_OK ? 0 : status_fail("mv_matrix_write", st);
}

/* h5-field IN.h5 OUT.raw OUT.aff OUT.mat: mv_itk_h5_read_field; prints X Y
   Z NC (0 0 0 0 without a field); the components, the field's affine, m */
static int cmd_h5_field(int argc, char **argv)
{
    mv_vol f;
    double m[4][4];
    mv_status st;
    if (argc != 6) return 2;
    st = mv_itk_h5_read_field(argv[2], m, &f, NULL);
    if (st != MV_OK) return status_fail("mv_itk_h5_read_field", st);
    if (!f.data) {
        printf("0 0 0 0\n");
    } else {
        printf("%lld %lld %lld %lld\n", (long long)f.dim[0], (long long)f.dim[1], (long long)f.dim[2],
               (long long)f.dim[4]);
        if (!diff_write_exact(argv[3], f.data, mv_vol_bytes(&f))) return io_fail("writing", argv[3]);
        st = mv_matrix_write(argv[4], (const double(*)[4])f.affine);
    }
    mv_free(&f);
    if (st == MV_OK) st = mv_matrix_write(argv[5], (const double(*)[4])m);
    return st == MV_OK ? 0 : status_fail("mv_matrix_write", st);
}

/* chain IN PTS.raw N OUT.raw [GX GY GZ GAFF FIELD.raw] */
static int cmd_chain(int argc, char **argv)
{
    mv_elastix_transform *t = NULL;
    mv_status st;
    double *p;
    long long n, i;
    int rc = 0;
    if (argc != 6 && argc != 11) return 2;
    n = atoll(argv[4]);
    st = mv_itk_transform_read(argv[2], &t, NULL);
    if (st != MV_OK) return status_fail("mv_itk_transform_read", st);
    p = (double *)malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof(double));
    if (!p || !diff_read_exact(argv[3], p, (size_t)n * 3 * sizeof(double))) rc = io_fail("reading", argv[3]);
    for (i = 0; rc == 0 && i < n; i++) {
        double q[3];
        st = mv_elastix_point(t, p + 3 * i, q);
        if (st != MV_OK) rc = status_fail("mv_elastix_point", st);
        memcpy(p + 3 * i, q, sizeof(q));
    }
    if (rc == 0 && !diff_write_exact(argv[5], p, (size_t)n * 3 * sizeof(double))) rc = io_fail("writing", argv[5]);
    free(p);
    if (rc == 0 && argc == 11) {
        mv_vol g, f;
        rc = grid_vol(&g, argv[6], argv[7], argv[8], NULL, argv[9], NULL, "chain grid");
        if (rc == 0) {
            mv_vol_init(&f);
            st = mv_elastix_field(t, &g, &f, NULL);
            if (st != MV_OK) rc = status_fail("mv_elastix_field", st);
            else if (!diff_write_exact(argv[10], f.data, mv_vol_bytes(&f))) rc = io_fail("writing", argv[10]);
            mv_free(&f);
            mv_free(&g);
        }
    }
    mv_elastix_free(t);
    return rc;
}

/* itk-rewrite IN OUT LEVEL: an ITK file read as a chain and written back
   (mv_itk_write_transform: .h5 at LEVEL, or .tfm) */
static int cmd_itk_rewrite(int argc, char **argv)
{
    mv_elastix_transform *t = NULL;
    mv_status st;
    if (argc != 5) return 2;
    st = mv_itk_transform_read(argv[2], &t, NULL);
    if (st != MV_OK) return status_fail("mv_itk_transform_read", st);
    st = mv_itk_write_transform(argv[3], t, atoi(argv[4]));
    mv_elastix_free(t);
    return st == MV_OK ? 0 : status_fail("mv_itk_write_transform", st);
}

/* s in hex, "-" when empty */
static void put_hex(FILE *f, const char *s)
{
    if (!*s) fputc('-', f);
    for (; *s; s++) fprintf(f, "%02x", (unsigned char)*s);
}

static int write_pairs(const char *path, const mv_vol *v)
{
    FILE *f = fopen(path, "w");
    int i, ok;
    if (!f) return 0;
    for (i = 0; i < v->meta.n_kv; i++) {
        put_hex(f, v->meta.kv[i].key);
        fputc(' ', f);
        put_hex(f, v->meta.kv[i].value);
        fputc('\n', f);
    }
    ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

static int cmd_mha(int argc, char **argv)
{
    mv_vol v;
    mv_status st;
    int i;
    if (!strcmp(argv[1], "convert")) {
        mv_save_opts so = MV_ZERO_INIT;
        if (argc != 6) return 2;
        st = mv_load(argv[2], &v, NULL);
        if (st != MV_OK) return status_fail(argv[2], st);
        so.compress = atoi(argv[4]);
        so.gzip.level = atoi(argv[5]);
        st = mv_save(argv[3], &v, &so);
        mv_free(&v);
        return st == MV_OK ? 0 : status_fail(argv[3], st);
    }
    if (argc != 5 && argc != 6) return 2;
    st = mv_load(argv[2], &v, NULL);
    if (st != MV_OK) return status_fail(argv[2], st);
    if (argc == 6 && !write_pairs(argv[5], &v)) {
        mv_free(&v);
        return io_fail("writing", argv[5]);
    }
    printf("%s %d", mv_dtype_name(v.dtype), v.ndim);
    for (i = 0; i < v.ndim; i++) printf(" %lld", (long long)v.dim[i]);
    printf(" %d\n", v.meta.intent_code);
    if (!diff_write_exact(argv[3], v.data, mv_vol_bytes(&v))) {
        mv_free(&v);
        return io_fail("writing", argv[3]);
    }
    st = mv_matrix_write(argv[4], (const double(*)[4])v.affine);
    mv_free(&v);
    return st == MV_OK ? 0 : status_fail("mv_matrix_write", st);
}

static int cmd_fsample(int argc, char **argv)
{
    mv_vol f, grid, z;
    mv_status st;
    int rc;
    if (argc != 8) return 2;
    rc = load_field(argv[2], &f, "mv_field_load");
    if (rc) return rc;
    rc = grid_vol(&grid, argv[3], argv[4], argv[5], NULL, argv[6], NULL, "grid");
    if (rc) return rc;
    mv_vol_init(&z);
    st = mv_field_alloc(&z, &grid, (int)f.dim[4], NULL);
    if (st != MV_OK) return status_fail("mv_field_alloc", st);
    st = mv_field_compose_into(&f, &z, &z, NULL);
    if (st != MV_OK) return status_fail("mv_field_compose_into", st);
    if (!diff_write_exact(argv[7], z.data, mv_vol_bytes(&z))) return io_fail("writing", argv[7]);
    mv_free(&z);
    mv_free(&grid);
    mv_free(&f);
    return 0;
}

static int cmd_field_op(int argc, char **argv)
{
    mv_vol a, b, out;
    mv_status st;
    int rc;
    const char *cmd = argv[1];
    mv_vol_init(&b);
    mv_vol_init(&out);
    if (!strcmp(cmd, "jac")) {
        if (argc != 4) return 2;
        rc = load_field(argv[2], &a, "mv_field_load");
        if (rc) return rc;
        st = mv_field_jacobian(&a, &out, NULL);
        if (st != MV_OK) return status_fail("mv_field_jacobian", st);
        if (!diff_write_exact(argv[3], out.data, mv_vol_bytes(&out))) return io_fail("writing", argv[3]);
        mv_free(&out);
        mv_free(&a);
        return 0;
    }
    if (!strcmp(cmd, "compose")) {
        if (argc != 5) return 2;
        if ((rc = load_field(argv[2], &a, "mv_field_load d1")) != 0) return rc;
        if ((rc = load_field(argv[3], &b, "mv_field_load d2")) != 0) return rc;
        st = mv_vol_copy(&b, &out);
        if (st != MV_OK) return status_fail("mv_vol_copy", st);
        memset(out.data, 0, mv_vol_bytes(&out));
        st = mv_field_compose_into(&a, &b, &out, NULL);
        if (st != MV_OK) return status_fail("mv_field_compose_into", st);
    } else if (!strcmp(cmd, "addaff")) {
        double M[4][4];
        if (argc != 6) return 2;
        if ((rc = load_field(argv[2], &a, "mv_field_load")) != 0) return rc;
        st = mv_matrix_read(argv[3], M);
        if (st != MV_OK) return status_fail("mv_matrix_read", st);
        st = mv_vol_copy(&a, &out);
        if (st != MV_OK) return status_fail("mv_vol_copy", st);
        memset(out.data, 0x7f, mv_vol_bytes(&out)); /* every value must be written */
        st = mv_field_add_affine_into(atoi(argv[4]) ? &a : NULL, (const double(*)[4])M, &out, NULL);
        if (st != MV_OK) return status_fail("mv_field_add_affine_into", st);
    } else if (!strcmp(cmd, "invert")) {
        mv_field_opts fo;
        mv_field_info info;
        if (argc != 6) return 2;
        if ((rc = load_field(argv[2], &a, "mv_field_load")) != 0) return rc;
        memset(&fo, 0, sizeof(fo));
        memset(&info, 0, sizeof(info));
        fo.max_iter = atoi(argv[3]);
        fo.tol = atof(argv[4]);
        st = mv_vol_copy(&a, &out);
        if (st != MV_OK) return status_fail("mv_vol_copy", st);
        st = mv_field_invert_into(&a, &out, &fo, &info);
        if (st != MV_OK) return status_fail("mv_field_invert_into", st);
        printf("%d %.17g %.17g\n", info.iterations, info.max_residual, info.mean_residual);
    } else {
        return 2;
    }
    rc = save_field(argv[argc - 1], &out, "mv_field_save");
    mv_free(&out);
    mv_free(&b);
    mv_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2) {
        const char *c = argv[1];
        if (!strcmp(c, "tfm-write") || !strcmp(c, "tfm-read"))
            rc = cmd_tfm(argc, argv);
        else if (!strcmp(c, "warp") || !strcmp(c, "fwarp"))
            rc = argc >= 10 ? cmd_warp(argc, argv, c[0] == 'f') : 2;
        else if (!strcmp(c, "fsave"))
            rc = cmd_fsave(argc, argv);
        else if (!strcmp(c, "fload"))
            rc = cmd_fload(argc, argv);
        else if (!strcmp(c, "h5-field"))
            rc = cmd_h5_field(argc, argv);
        else if (!strcmp(c, "chain"))
            rc = cmd_chain(argc, argv);
        else if (!strcmp(c, "itk-rewrite"))
            rc = cmd_itk_rewrite(argc, argv);
        else if (!strcmp(c, "fsample"))
            rc = cmd_fsample(argc, argv);
        else if (!strcmp(c, "mha-load") || !strcmp(c, "convert"))
            rc = argc >= 5 ? cmd_mha(argc, argv) : 2;
        else
            rc = cmd_field_op(argc, argv);
    }
    if (rc == 2) fprintf(stderr, "diff_sitk: usage: see tests/diff_sitk.c\n");
    return rc;
}
