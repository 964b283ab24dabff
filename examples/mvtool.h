/* mvtool.h - what the files of mvtool share: the command table's row type,
   the parsed command line, the argument helpers and the families' tables.

   mvtool is one binary with one table of subcommands per family (STYLE P11):
   examples/mvtool.c holds the parser, main(), the shared helpers and the io
   commands (info, stats, convert, phantom); each examples/mvtool_<family>.c
   (ops: time points, intensity, spatial, resampling, chains, FFTs, rss) defines
   mvtool_<family>_commands[] and mvtool_<family>_ncommands, listed once in
   mvtool.c's `families` (the Makefile builds every examples/mvtool*.c). */
#ifndef MVTOOL_H
#define MVTOOL_H

#include "../medvol.h"
#include <stdint.h>

struct command;

/* A command line split by the parser: positional words in order, options
   (checked against the command's list) with their values. */
typedef struct args {
    const struct command *cmd;
    int npos;
    char **pos;
    int nopt;
    const char *opt_name[32];
    const char *opt_val[32]; /* NULL for flags */
} args;

typedef struct command {
    const char *name;
    const char *summary; /* one line for `mvtool --help` */
    const char *usage;   /* `mvtool CMD --help`: first line the synopsis */
    const char *opts;    /* options it takes, space-separated; "--x=" takes a value */
    int min_pos, max_pos; /* positional words (max -1: any number) */
    int (*run)(const args *a);
} command;

/* Sizes and positions: well inside int64 so sums of them cannot overflow
   (the library checks them against the file). */
#define MVT_BIG ((int64_t)1 << 53)

/* A usage error: names the command and the offending word; returns 2. */
int usage_error(const args *a, const char *what, const char *word);
/* A library failure: status name, file, detail on stderr; returns 1. */
int fail_at(mv_status st, const char *path);
/* The option's value (the last one given), or NULL; whether a flag is given. */
const char *opt_str(const args *a, const char *name);
int opt_flag(const args *a, const char *name);
/* "a,b,c" into up to n finite numbers; returns how many, -1 on junk. */
int parse_list(const char *s, double *out, int n);
/* "a,b,c" into up to n whole numbers in [lo, hi]; how many, -1 on junk. */
int parse_ints(const char *s, int64_t *out, int n, int64_t lo, int64_t hi);
/* The option's value as n finite floats "a:b:c" (strtof: bart's sscanf
   "%f"); 0 (v untouched when absent) or the usage error */
int opt_floats(const args *a, const char *name, float *v, int n);
/* nearest | linear | cubic; 1 if known */
int parse_interp(const char *s, mv_interp *interp);
/* "X,Y,Z" voxel counts >= 1; "A,B,C" spacings in mm > 0: 1 if valid */
int parse_shape(const char *s, int64_t *shape);
int parse_spacing(const char *s, double *spacing);
/* a dtype name; 0, or the usage error's exit status */
int parse_dtype(const args *a, const char *word, mv_dtype *dt);
/* whether s ends with suffix (and has more before it) */
int has_suffix(const char *s, const char *suffix);
/* mv_load / mv_save with the failure reported; exit status (save frees v) */
int load_or_fail(const char *path, mv_vol *v, const mv_load_opts *o);
int save_and_free(const char *path, mv_vol *v, const mv_save_opts *so);
/* BART .cfl pairs with all 16 of BART's axes. cfl_load_folded: NAME with
   BART's axes 6..15 (TIME_DIM 10 among them) folded into dims[6], the
   same samples in the same order (mv_load_opts.cfl_fold), and its 16 sizes
   in bd (NULL: not wanted). cfl_save_dims: v written with BART's 16 sizes
   bd (NULL: v's own dims), then freed. Exit status (1: fail_at's). */
int cfl_load_folded(const char *path, mv_vol *v, int64_t bd[16]);
/* cfl_load_folded with the samples mapped (read-only, never written in
   place): no copy of an input a command only reads. A mapping held while
   another program rewrites that .cfl in place (bart writes its outputs so)
   would see the change; mvtool's own outputs are new files renamed into
   place, so OUT = IN is safe. */
int cfl_load_mapped(const char *path, mv_vol *v, int64_t bd[16]);
int cfl_save_dims(const char *path, mv_vol *v, const int64_t bd[16]);
/* sample strides of 16 BART sizes (first axis fastest); all sizes 1 */
void strides_of(const int64_t d[16], int64_t s[16]);
void ones16(int64_t d[16]);
/* the samples of 16 sizes; a 16-axis counter's next position within d
   (first axis fastest: 0 when it wrapped to all zeros); the offset of
   position c in an array of sizes d broadcast over it (axes of 1 repeat) */
int64_t count16(const int64_t d[16]);
int next16(int64_t c[16], const int64_t d[16]);
int64_t offset16(const int64_t c[16], const int64_t d[16]);
/* a zeroed complex64 array of BART sizes bd (folded to medvol's dims); exit status (fail_at's, naming path) */
int alloc16(mv_vol *o, const int64_t bd[16], const char *path);
/* one whole number in [lo, hi] (BART's axis numbers, sizes, positions); 0 or the usage error naming what */
int arg_int(const args *a, const char *word, int64_t lo, int64_t hi, const char *what, int64_t *v);
/* 16 BART sizes as a volume's dims (axes 6..15 in dims[6]); its ndim */
int cfl_fold_dims(const int64_t bd[16], int64_t dims[MV_MAX_DIMS]);
/* BART's rule for two files' axes from..15: each 1 or the other's, out
   the larger (axes below from untouched). 0, or the usage error naming the
   axis. */
int cfl_broadcast(const args *a, const char *xname, const int64_t x[16], const char *yname, const int64_t y[16],
                  int from, int64_t out[16]);
/* Whether x, broadcast to the result's sizes out, survives the fold: one
   folded axis (BART's 6..15) is shared or not as a whole, so x must hold
   all of out's samples there or one. 0, or the usage error naming the axis
   and the file name. */
int cfl_fold_broadcast(const args *a, const char *name, const int64_t x[16], const int64_t out[16]);
/* Groups of samples that differ only in the axes of a BART bitmask (bart
   rss, threshold -j): walks the samples of 16 BART sizes in file order,
   at = the index of the current sample's group among the groups (flagged
   axes of size 1: gd, the result's sizes). */
typedef struct cfl_groups {
    int64_t bd[16], step[16], c[16], at;
} cfl_groups;
void cfl_groups_init(cfl_groups *g, const int64_t bd[16], unsigned flags, int64_t gd[16]);
void cfl_groups_next(cfl_groups *g);
/* .h5 fields and B-splines deflated as ITK's UseCompression (which ANTs sets) writes them */
#define MVTOOL_H5_LEVEL 5
/* a displacement field to path: *.h5 ITK's HDF5 transform (after the
   matrix M, when given, as a composite: the whole fixed -> moving map),
   else a NIfTI field file (M not stored); exit status */
int save_field_file(const char *path, const mv_vol *field, const double (*M)[4]);
/* after a save: names on stderr the pairs the file left out (mv_save_keeps_keyvalue) */
void warn_unwritten_pairs(const char *path, const mv_vol *v);

/* The families' tables (one extern pair per examples/mvtool_<family>.c). */
extern const command mvtool_ops_commands[];
extern const int mvtool_ops_ncommands;
extern const command mvtool_math_commands[];
extern const int mvtool_math_ncommands;
extern const command mvtool_filter_commands[];
extern const int mvtool_filter_ncommands;
extern const command mvtool_field_commands[];
extern const int mvtool_field_ncommands;
extern const command mvtool_register_commands[];
extern const int mvtool_register_ncommands;
extern const command mvtool_analysis_commands[];
extern const int mvtool_analysis_ncommands;
extern const command mvtool_mri_commands[];
extern const int mvtool_mri_ncommands;
extern const command mvtool_recon_commands[];
extern const int mvtool_recon_ncommands;
extern const command mvtool_array_commands[];
extern const int mvtool_array_ncommands;
extern const command mvtool_image_commands[];
extern const int mvtool_image_ncommands;
extern const command mvtool_sense_commands[];
extern const int mvtool_sense_ncommands;
/* bart flip's form of mvtool flip (examples/mvtool_array.c) */
int mvtool_flip_bart(const args *a);
/* BART's fft over the axes of flags (bit a: BART's axis a) of the samples
   x of 16 sizes bd, in place: fftmod before and after when centred (bart
   fft without -n), norm MV_FFT_ORTHO for -u (mvtool_ops.c) */
mv_status bart_fft_samples(float *x, const int64_t bd[16], unsigned flags, int inverse, mv_fft_norm norm, int centred);

#endif
