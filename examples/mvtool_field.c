/* mvtool_field.c - displacement-field commands of mvtool (>>api-field):
   warp-field, jacobian, invert-field, compose-field, exp-field, demons. Fields are
   ITK/ANTs displacement files (NIfTI (X,Y,Z,1,3), intent 1007, LPS mm, on
   the fixed grid, or an ITK .h5 DisplacementFieldTransform); matrices are
   4x4 RAS mm text (fixed -> moving). */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 4x4 (or 3x4: bottom row 0 0 0 1 implied) matrix of numbers from a text
   file; '#' starts a comment. 1 if read. */
static int read_matrix(const char *path, double M[4][4])
{
    FILE *f = fopen(path, "r");
    char line[1024];
    double v[16];
    int n = 0, r, c;
    if (!f) return 0;
    while (n < 16 && fgets(line, sizeof(line), f)) {
        char *p = line, *end;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        for (;;) {
            double x = strtod(p, &end);
            if (end == p) break;
            if (n >= 16) {
                fclose(f);
                return 0;
            }
            v[n++] = x;
            p = end;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ',') p++;
        if (*p) {
            fclose(f);
            return 0;
        }
    }
    fclose(f);
    if (n != 12 && n != 16) return 0;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) M[r][c] = r < 3 ? v[r * 4 + c] : (n == 16 ? v[12 + c] : (c == 3 ? 1.0 : 0.0));
    return 1;
}

/* A field file: ITK/ANTs NIfTI, or (*.h5) an ITK HDF5 transform that is a
   DisplacementFieldTransform alone (a composite's linear members would be
   dropped: warp-field --field X.h5 alone applies them). */
static int load_field_or_fail(const char *path, mv_vol *f)
{
    mv_status st;
    if (has_suffix(path, ".h5")) {
        double M[4][4];
        int r, c, linear = 0;
        st = mv_itk_h5_read_field(path, M, f, NULL);
        if (st != MV_OK) return fail_at(st, path);
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++) linear |= M[r][c] != (r == c ? 1.0 : 0.0);
        if (f->data && !linear) return 0;
        mv_free(f);
        fprintf(stderr, "mvtool: %s: %s\n", path,
                linear ? "a composite with linear members besides its field (only warp-field --field applies them)"
                       : "no DisplacementFieldTransform in it");
        return 1;
    }
    st = mv_field_load(path, f, NULL);
    if (st != MV_OK) return fail_at(st, path);
    return 0;
}

static int save_field_and_free(const char *path, mv_vol *f, const double (*M)[4])
{
    int rc = save_field_file(path, f, M);
    mv_free(f);
    return rc;
}

static int cmd_warp_field(const args *a)
{
    const char *fpath = opt_str(a, "--field"), *mpath = opt_str(a, "--matrix"), *interp = opt_str(a, "--interp");
    mv_field_opts o = MV_ZERO_INIT;
    mv_vol moving, ref, field, out;
    double M[4][4];
    mv_status st;
    mv_load_opts ho = MV_ZERO_INIT;
    if (!fpath) return usage_error(a, "--field FIELD is required", NULL);
    if (interp && !parse_interp(interp, &o.interp)) return usage_error(a, "--interp wants nearest, linear or cubic", interp);
    if (mpath && !read_matrix(mpath, M)) return usage_error(a, "--matrix wants a text file of a 4x4 (or 3x4) matrix", mpath);
    if (opt_str(a, "--fill")) {
        if (parse_list(opt_str(a, "--fill"), &o.fill, 1) != 1) return usage_error(a, "--fill wants a number", opt_str(a, "--fill"));
        o.fill_outside = 1;
    }
    if (has_suffix(fpath, ".h5")) { /* ITK's HDF5 transform: its linear members are the matrix */
        if (mpath) return usage_error(a, "--field X.h5 carries its own matrix (the composite's linear members): no --matrix", mpath);
        st = mv_itk_h5_read_field(fpath, M, &field, NULL);
        if (st != MV_OK) return fail_at(st, fpath);
        if (!field.data) return usage_error(a, "the .h5 holds no DisplacementFieldTransform (use mvtool warp --tfm)", fpath);
        mpath = fpath;
    } else if (load_field_or_fail(fpath, &field)) {
        return 1;
    }
    ho.header_only = 1;
    if (load_or_fail(a->pos[1], &ref, &ho)) {
        mv_free(&field);
        return 1;
    }
    st = mv_field_check(&field, &ref);
    mv_free(&ref);
    if (st != MV_OK) {
        mv_free(&field);
        return fail_at(st, fpath);
    }
    if (load_or_fail(a->pos[0], &moving, NULL)) {
        mv_free(&field);
        return 1;
    }
    mv_vol_init(&out);
    st = mv_field_warp(&moving, &field, mpath ? (const double(*)[4])M : NULL, &out, &o);
    mv_free(&moving);
    mv_free(&field);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[2], &out, NULL);
}

static int cmd_jacobian(const args *a)
{
    mv_vol f, j;
    int64_t folds = 0;
    double mn = 0;
    mv_status st;
    if (load_field_or_fail(a->pos[0], &f)) return 1;
    mv_vol_init(&j);
    st = mv_field_jacobian(&f, &j, NULL);
    if (st == MV_OK) st = mv_field_folds(&f, &folds, &mn, NULL);
    mv_free(&f);
    if (st != MV_OK) {
        mv_free(&j);
        return fail_at(st, a->pos[0]);
    }
    fprintf(stderr, "jacobian: %lld folded voxels (det <= 0), smallest det %g\n", (long long)folds, mn);
    return save_and_free(a->pos[1], &j, NULL);
}

static int cmd_invert_field(const args *a)
{
    mv_field_opts o = MV_ZERO_INIT;
    mv_field_info info;
    mv_vol f, e;
    mv_status st;
    const char *it = opt_str(a, "--iterations"), *tol = opt_str(a, "--tol");
    if (it) {
        int64_t n;
        if (parse_ints(it, &n, 1, 1, 100000) != 1) return usage_error(a, "--iterations wants a whole number >= 1", it);
        o.max_iter = (int)n;
    }
    if (tol && (parse_list(tol, &o.tol, 1) != 1 || !(o.tol > 0))) return usage_error(a, "--tol wants mm > 0", tol);
    if (load_field_or_fail(a->pos[0], &f)) return 1;
    st = mv_vol_copy(&f, &e);
    if (st == MV_OK) st = mv_field_invert_into(&f, &e, &o, &info);
    mv_free(&f);
    if (st != MV_OK) {
        mv_free(&e);
        return fail_at(st, a->pos[0]);
    }
    fprintf(stderr, "invert-field: %d iterations, residual max %.4g mm, mean %.4g mm\n", info.iterations, info.max_residual,
            info.mean_residual);
    return save_field_and_free(a->pos[1], &e, NULL);
}

static int cmd_compose_field(const args *a)
{
    mv_vol d1, d2;
    mv_status st;
    if (load_field_or_fail(a->pos[0], &d1)) return 1;
    if (load_field_or_fail(a->pos[1], &d2)) {
        mv_free(&d1);
        return 1;
    }
    st = mv_field_compose_into(&d1, &d2, &d2, NULL);
    mv_free(&d1);
    if (st != MV_OK) {
        mv_free(&d2);
        return fail_at(st, a->pos[0]);
    }
    return save_field_and_free(a->pos[2], &d2, NULL);
}

static int cmd_exp_field(const args *a)
{
    mv_field_info info;
    mv_vol v;
    mv_status st;
    if (load_field_or_fail(a->pos[0], &v)) return 1;
    st = mv_field_exp_into(&v, &v, NULL, &info);
    if (st != MV_OK) {
        mv_free(&v);
        return fail_at(st, a->pos[0]);
    }
    fprintf(stderr, "exp-field: %d squarings\n", info.squarings);
    return save_field_and_free(a->pos[1], &v, NULL);
}


static int progress_line(void *user, int level, int iteration, double mse)
{
    (void)user;
    if (iteration % 10 == 0) fprintf(stderr, "demons: level %d iteration %d MSE %.6g\n", level, iteration, mse);
    return 0;
}

static int cmd_demons(const args *a)
{
    mv_demons_opts o = MV_ZERO_INIT;
    mv_demons_result r;
    mv_vol F, M, d;
    mv_status st;
    const char *lv = opt_str(a, "--levels"), *it = opt_str(a, "--iterations"), *im = opt_str(a, "--init-matrix"),
               *sm = opt_str(a, "--smooth"), *warped = opt_str(a, "--out");
    if (lv) {
        int64_t n;
        if (parse_ints(lv, &n, 1, 1, MV_DEMONS_MAX_LEVELS) != 1) return usage_error(a, "--levels wants 1..8", lv);
        o.levels = (int)n;
    }
    if (it) {
        int64_t v[MV_DEMONS_MAX_LEVELS];
        int n = parse_ints(it, v, MV_DEMONS_MAX_LEVELS, 1, 1024), k;
        if (n < 1) return usage_error(a, "--iterations wants N[,N...] (1..1024 per level, coarsest first)", it);
        for (k = 0; k < n; k++) o.iterations[k] = (int)v[k];
    }
    if (sm && parse_list(sm, &o.sigma_diffusion, 1) != 1) return usage_error(a, "--smooth wants sigma in voxels", sm);
    if (im && !read_matrix(im, o.init_matrix)) return usage_error(a, "--init-matrix wants a 4x4 (or 3x4) matrix file", im);
    o.progress = progress_line;
    if (load_or_fail(a->pos[0], &F, NULL)) return 1;
    if (load_or_fail(a->pos[1], &M, NULL)) {
        mv_free(&F);
        return 1;
    }
    mv_vol_init(&d);
    st = mv_register_demons(&F, &M, &d, &o, &r);
    if (st != MV_OK) {
        mv_free(&F);
        mv_free(&M);
        return fail_at(st, a->pos[1]);
    }
    fprintf(stderr, "demons: MSE %.6g -> %.6g, %s\n", r.mse_start, r.mse,
            r.stop_reason == MV_DEMONS_STOP_CONVERGED ? "converged" : "iterations done");
    if (warped) {
        mv_vol w;
        mv_vol_init(&w);
        st = mv_field_warp(&M, &d, im ? (const double(*)[4])o.init_matrix : NULL, &w, NULL);
        if (st != MV_OK || save_and_free(warped, &w, NULL)) {
            mv_free(&F);
            mv_free(&M);
            mv_free(&d);
            return st != MV_OK ? fail_at(st, a->pos[1]) : 1;
        }
    }
    mv_free(&F);
    mv_free(&M);
    return save_field_and_free(a->pos[2], &d, im ? (const double(*)[4])o.init_matrix : NULL);
}

const command mvtool_field_commands[] = {
    {"warp-field", "warp an image by a displacement field (and a matrix) onto the field's grid",
     "mvtool warp-field MOVING REFERENCE OUT --field FIELD [--matrix M.txt] [--interp nearest|linear|cubic]\n"
     "                  [--fill VALUE]\n"
     "  FIELD: ITK/ANTs displacement field (NIfTI (X,Y,Z,1,3), intent 1007, LPS mm) on\n"
     "  REFERENCE's grid. Fixed point p samples MOVING at M(p + d(p)): the field first,\n"
     "  then the matrix (4x4 RAS mm text, fixed -> moving), as SimpleITK's\n"
     "  CompositeTransform([M, field]). Default linear; nearest keeps the dtype\n"
     "  (labels); --fill: outside samples get VALUE (default: the edge continues).\n"
     "  FIELD named *.h5: an ITK/ANTs HDF5 transform (ANTs' composite, fMRIPrep's\n"
     "  *_xfm.h5) whose last member is a DisplacementFieldTransform; its linear\n"
     "  members are M.\n",
     "--field= --matrix= --interp= --fill=", 3, 3, cmd_warp_field},
    {"jacobian", "Jacobian determinant of a displacement field (folded voxels on stderr)",
     "mvtool jacobian FIELD OUT\n"
     "  FIELD (here and in invert-field, compose-field, exp-field): an ITK/ANTs\n"
     "  displacement NIfTI or an ITK .h5 holding a DisplacementFieldTransform alone;\n"
     "  the fields those three write, named *.h5, are ITK's HDF5 transforms too.\n"
     "  det(I + grad d), central differences in world units (one-sided at the border);\n"
     "  float32 OUT on the field's grid. The count of folded voxels (det <= 0) and the\n"
     "  smallest determinant go to stderr.\n",
     "", 2, 2, cmd_jacobian},
    {"invert-field", "inverse of a displacement field (fixed-point iteration)",
     "mvtool invert-field FIELD OUT [--iterations N] [--tol MM]\n"
     "  e(p) = -d(p + e(p)) iterated on FIELD's grid (default 50 iterations, tolerance\n"
     "  1e-4 x the smallest spacing); the residual max and mean (mm) go to stderr.\n",
     "--iterations= --tol=", 2, 2, cmd_invert_field},
    {"compose-field", "compose two displacement fields (FIELD2 applied first)",
     "mvtool compose-field FIELD1 FIELD2 OUT\n"
     "  OUT(p) = d2(p) + d1(p + d2(p)) on FIELD2's grid: p -> T1(T2(p)).\n",
     "", 3, 3, cmd_compose_field},
    {"demons", "deformable registration by diffeomorphic demons (same modality)",
     "mvtool demons FIXED MOVING OUT_FIELD [--out WARPED] [--levels N] [--iterations N,N,...]\n"
     "              [--smooth SIGMA] [--init-matrix M.txt]\n"
     "  Vercauteren's diffeomorphic demons, symmetric forces, coarse to fine (default 3\n"
     "  levels, 100,60,40 iterations, field smoothing 1.5 voxels). OUT_FIELD: ITK/ANTs\n"
     "  displacement field on FIXED's grid (moving point = M(p + d(p))); named *.h5,\n"
     "  ITK's HDF5 CompositeTransform of M and the field (the field alone without M);\n"
     "  --out writes the warped moving image; progress on stderr.\n",
     "--out= --levels= --iterations= --smooth= --init-matrix=", 3, 3, cmd_demons},
    {"exp-field", "exponential of a stationary velocity field (scaling and squaring)",
     "mvtool exp-field VELOCITY OUT\n"
     "  squarings chosen from the largest displacement (each step <= 1/4 voxel).\n",
     "", 2, 2, cmd_exp_field},
};
const int mvtool_field_ncommands = (int)(sizeof(mvtool_field_commands) / sizeof(mvtool_field_commands[0]));
