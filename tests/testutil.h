/* testutil.h - helpers shared by the test files: scratch folder, the Python
   used for cross-checks, the shared data folder, file helpers, a seeded RNG. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include "../medvol.h"
#include "mvtest.h"
#include <stddef.h>

/* build/test-tmp-<pid>/name, created on first use */
const char *tu_path(const char *name);
/* build/test-tmp-<pid>/area, made as a folder (NULL if it cannot be), and a
   file in it (four rotating buffers: up to four paths alive at once) */
const char *tu_dir(const char *area);
const char *tu_file(const char *area, const char *name);
/* NULL when the registration pairs of tests/py/reg_data.py are in
   build/regdata (made once, cached), else why they are not */
const char *tu_regdata(void);
/* the shared data folder (MEDVOL_DATA, else ../shared/data from the repo
   root, else ../../shared/data); NULL if absent */
const char *tu_data_dir(void);
/* /usr/bin/python3 (or MEDVOL_PYTHON) if it imports the listed modules
   ("numpy nibabel"), else NULL; the answer is cached per module list */
const char *tu_python(const char *modules);
/* runs a Python script of tests/py with arguments; returns its exit status
   and captures stdout into out (may be NULL) */
int tu_run_py(const char *script, const char *args, char *out, size_t cap);
/* how many tu_run_py calls of this process ran Python, and how many were
   answered from MEDVOL_TEST_PYCACHE (tests/test_main.c) */
void tu_pycache_counts(int *runs, int *hits);
/* whole file into malloc'ed memory (NULL if unreadable) */
unsigned char *tu_read_file(const char *path, size_t *len);
/* whether the file at path holds line as a whole line ('\n'-ended or last) */
int tu_file_has_line(const char *path, const char *line);
/* v's affine rows 0-2 equal want exactly */
int tu_affine_is(const mv_vol *v, const double want[3][4]);
int tu_write_file(const char *path, const void *data, size_t len);
/* xorshift64* */
uint64_t tu_rand(uint64_t *state);
double tu_rand01(uint64_t *state);
/* the folder of reference files made by tests/py/refs.py (NULL if no numpy) */
const char *tu_refs_dir(void);
const char *tu_gzpar_dir(void);
/* case name of that folder: name.ext into *data (*n bytes) and name.raw
   into *raw (*rawn), malloc'ed; 0, and nothing kept, if either is missing */
int tu_gzpar_case(const char *name, const char *ext, unsigned char **data, size_t *n, unsigned char **raw,
                  size_t *rawn);

/* A batch of cases for one tests/py script, run once: the folder
   build/test-tmp-<pid>/<name> holds cases.txt (one line a case, "c<id> ..."
   as the test writes it) and each case's inputs c<id>.<ext>; the script
   reads them and writes its outputs c<id>.<ext> beside them. */
typedef struct tu_batch {
    char dir[512];
    FILE *list;
    int n;
} tu_batch;
/* makes the folder and opens cases.txt; 0 if that fails */
int tu_batch_open(tu_batch *b, const char *name);
/* a new case: returns its id and starts its line with "c<id> " (the test
   prints the rest of the line, ending with a newline, to b->list) */
int tu_batch_case(tu_batch *b);
/* writes case id's input file c<id>.<ext> */
void tu_batch_write(const tu_batch *b, int id, const char *ext, const void *data, size_t bytes);
/* closes the list and runs tests/py/<script> on the folder; 0 (and a test
   failure naming the script) if the script fails */
int tu_batch_run(tu_batch *b, const char *script);
/* the script's output c<id>.<ext> (malloc'ed), or NULL (and a test failure)
   if it is missing or not `bytes` long */
void *tu_batch_read(const tu_batch *b, int id, const char *ext, size_t bytes);

/* Whether a test that covers every ISA makes its extra runs (threaded
   passes, large cases) on isa, given the suite's active ISA:
   - the scalar reference makes them only where it is the active ISA (the
     no-SIMD suite); elsewhere each SIMD ISA's runs meet the reference's
     1-thread bytes or numpy, and under qemu each scalar run costs seconds;
   - under ThreadSanitizer only the active ISA makes them: TSan checks the
     work split and the pool, which no ISA changes (an ISA swaps the kernel
     inside each piece), and the other suites compare the ISAs. */
int tu_isa_extra_runs(int isa, int active);
/* The last thread count of a test's "1, 2, 3 threads" loop: n, or fewer
   under MEDVOL_TEST_MAX_THREADS. The NEON suite sets 1: under qemu its job
   is the NEON kernels against their references; whether thread counts give
   the same bytes is the native suites' (TSan's among them) to show, and
   under qemu each thread count cost a full run of the kernel again. */
int tu_threads_upto(int n);
/* How many times a test repeats its multi-thread runs (a race shows in some
   runs only): MEDVOL_TEST_REPS when it is 1 or more (make test-tsan sets 1:
   TSan reports a race from any run that makes the accesses), else dflt. */
int tu_test_reps(int dflt);
/* int16 voxels of r, the box of size[0..4) at corner[0..4) of v (x fastest;
   v's axes 3 and up flattened into the fourth), that differ from v's: 0
   when r holds exactly that box, -1 when r has fewer voxels than it. */
int64_t tu_i16_box_mismatches(const mv_vol *r, const mv_vol *v, const int64_t corner[4], const int64_t size[4]);

#endif
