/* test_main.c - the runner and the helpers of testutil.h and json.h.
   Usage: medvol_tests [--filter SUBSTRING]... [--skip SUBSTRING]... [--list]
   A test runs if its name contains one of the filters (or there are none)
   and none of the skips; skipped ones are counted and listed by name. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* MVT_PARTIAL_SUITE: a suite built from some of the test files (the TSan
   and FFTW suites run a --filter of the tests, the others --skip what they
   leave out: Makefile, TEST_SRC_*): the others' tests are weak
   references, null here, and selecting one is a failure (a filter that
   names a test the suite's build left out must not pass silently).
   Every other suite links every test: a missing one is a link error. */
#if defined(MVT_PARTIAL_SUITE)
#define X(area, name) void mvt_##area##__##name(void) __attribute__((weak));
#else
#define X(area, name) void mvt_##area##__##name(void);
#endif
#include "test_list.h"
#undef X

static const struct {
    const char *area, *name;
    void (*fn)(void);
} mvt_tests[] = {
#define X(area, name) {#area, #name, mvt_##area##__##name},
#include "test_list.h"
#undef X
};

mvt_state mvt_cur;

void mvt_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    mvt_cur.failures++;
    if (mvt_cur.failures > 20) return; /* enough said */
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

void mvt_skip(const char *fmt, ...)
{
    va_list ap;
    mvt_cur.skipped = 1;
    va_start(ap, fmt);
    vsnprintf(mvt_cur.skip_reason, sizeof(mvt_cur.skip_reason), fmt, ap);
    va_end(ap);
}

static double now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

/* ---- testutil.h ---- */
static char tmpdir[512];

const char *tu_path(const char *name)
{
    static char buf[8][1024];
    static int slot;
    char *p = buf[slot++ % 8];
    if (!tmpdir[0]) {
        mkdir("build", 0755);
        snprintf(tmpdir, sizeof(tmpdir), "build/test-tmp-%ld", (long)getpid());
        mkdir(tmpdir, 0755);
    }
    snprintf(p, 1024, "%s/%s", tmpdir, name);
    return p;
}

const char *tu_dir(const char *area)
{
    static char dir[4][1024];
    static int k;
    k = (k + 1) & 3;
    snprintf(dir[k], sizeof(dir[k]), "%s", tu_path(area));
    if (mkdir(dir[k], 0755) != 0 && errno != EEXIST) return NULL;
    return dir[k];
}

const char *tu_file(const char *area, const char *name)
{
    static char p[4][1200];
    static int k;
    k = (k + 1) & 3;
    snprintf(p[k], sizeof(p[k]), "%s/%s", tu_dir(area), name);
    return p[k];
}

const char *tu_regdata(void)
{
    static int state = 0;
    static char why[512];
    if (state == 0) {
        char out[512];
        state = 2;
        if (!tu_python("numpy scipy nibabel")) {
            snprintf(why, sizeof(why), "python3 with numpy, scipy and nibabel not found");
        } else if (tu_run_py("reg_data.py", "build/regdata", out, sizeof(out)) != 0) {
            snprintf(why, sizeof(why), "tests/py/reg_data.py failed: %.400s", out);
        } else if (strncmp(out, "ok", 2) != 0) {
            snprintf(why, sizeof(why), "%.500s", out);
        } else {
            state = 1;
        }
    }
    return state == 1 ? NULL : why;
}

const char *tu_data_dir(void)
{
    static const char *cands[] = {NULL, "../shared/data", "../../shared/data"};
    static char found[512];
    static int done;
    int i;
    if (done) return found[0] ? found : NULL;
    done = 1;
    cands[0] = getenv("MEDVOL_DATA");
    for (i = 0; i < 3; i++) {
        char probe[600];
        struct stat st;
        if (!cands[i]) continue;
        snprintf(probe, sizeof(probe), "%s/manifest.json", cands[i]);
        if (stat(probe, &st) == 0) {
            snprintf(found, sizeof(found), "%s", cands[i]);
            return found;
        }
    }
    return NULL;
}

static const char *python_exe(void)
{
    const char *p = getenv("MEDVOL_PYTHON");
    return p && p[0] ? p : "/usr/bin/python3";
}

/* a ThreadSanitizer build (make test-tsan) */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif

int tu_threads_upto(int n)
{
    const char *e = getenv("MEDVOL_TEST_MAX_THREADS");
    int m = e ? atoi(e) : 0;
    return m >= 1 && m < n ? m : n;
}

int tu_test_reps(int dflt)
{
    const char *e = getenv("MEDVOL_TEST_REPS");
    int m = e ? atoi(e) : 0;
    return m >= 1 ? m : dflt;
}

int64_t tu_i16_box_mismatches(const mv_vol *r, const mv_vol *v, const int64_t corner[4], const int64_t size[4])
{
    const int16_t *a = (const int16_t *)r->data, *b = (const int16_t *)v->data;
    int64_t x, y, z, w, bad = 0;
    if (r->dtype != MV_DT_I16 || v->dtype != MV_DT_I16 || mv_vol_count(r) < size[0] * size[1] * size[2] * size[3])
        return -1;
    for (w = 0; w < size[3]; w++)
        for (z = 0; z < size[2]; z++)
            for (y = 0; y < size[1]; y++)
                for (x = 0; x < size[0]; x++)
                    bad += a[x + size[0] * (y + size[1] * (z + size[2] * w))] !=
                           b[(x + corner[0]) + v->dim[0] * ((y + corner[1]) + v->dim[1] * ((z + corner[2]) + v->dim[2] * (w + corner[3])))];
    return bad;
}

int tu_isa_extra_runs(int isa, int active)
{
    if (isa == active) return 1;
    return !TU_TSAN && isa != MV_ISA_REF;
}

const char *tu_python(const char *modules)
{
    static char cache_mods[16][64];
    static int cache_ok[16], ncache;
    char cmd[512], imports[256];
    int i;
    for (i = 0; i < ncache; i++)
        if (strcmp(cache_mods[i], modules) == 0) return cache_ok[i] ? python_exe() : NULL;
    snprintf(imports, sizeof(imports), "%s", modules);
    for (i = 0; imports[i]; i++)
        if (imports[i] == ' ') imports[i] = ',';
    snprintf(cmd, sizeof(cmd), "%s -c 'import %s' >/dev/null 2>&1", python_exe(), imports);
    if (ncache < 16) {
        snprintf(cache_mods[ncache], 64, "%s", modules);
        cache_ok[ncache] = system(cmd) == 0;
        return cache_ok[ncache++] ? python_exe() : NULL;
    }
    return system(cmd) == 0 ? python_exe() : NULL;
}

/* ---- the Python reference cache (MEDVOL_TEST_PYCACHE) ----
   make test runs a dozen suites side by side, and each ran the same
   reference scripts on the same inputs: about 30 s of Python per suite, most
   of it the interpreter importing numpy and scipy. With MEDVOL_TEST_PYCACHE
   set to a folder (make test sets one for its own run and removes it first),
   a script's result is kept there under a key hashing:
   - the interpreter's path and every .py file of tests/py (a script's helpers
     included);
   - the command's words, this process's scratch folder written as a token
     (each suite has its own build/test-tmp-<pid>);
   - the bytes of every file each word names, of every file under each
     folder a word names (by relative path, in name order), and of the
     files beside a word's path whose names it begins (prefix arguments).
   A suite that finds the key gets the script's stdout, and the files it wrote
   or changed under those paths, as the script made them; a test still
   compares its own output with them, so a suite whose output differs gives
   the script other inputs (a miss) or fails against the same reference.
   A script that reads a file no word names (through a list it is given)
   finds it by a path in its arguments' bytes: inside the scratch folder, so
   no other suite's key matches. (The scripts here read only their
   arguments' trees, the shared data, and the data sets that reg_data.py and
   bspline_data.py build and keep in build/; those two never go through the
   cache.) Only runs that exit 0 are kept. Unset (a suite run by hand),
   every call runs Python. */
typedef struct {
    char rel[600]; /* "<word>" (the word's file), "<word>/<path below its folder>", "<word>+<rest of a name>" */
    uint64_t h0, h1; /* content hash */
} pc_file;
typedef struct {
    pc_file *f;
    int n, cap;
    long long bytes;
    int uncacheable; /* a file unreadable, too many or too large, a name files.txt cannot hold */
} pc_list;

/* two 64-bit multiply-rotate lanes over 8-byte words (independent of the
   library under test: its own checksums are what the suites check) */
static void pc_mix(uint64_t *h0, uint64_t *h1, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    uint64_t a = *h0, b = *h1;
    while (n) {
        uint64_t w = 0;
        size_t k = n < 8 ? n : 8;
        memcpy(&w, p, k);
        w ^= (uint64_t)k << 59; /* the length of a short tail */
        a = (a ^ w) * 0x9E3779B97F4A7C15ull;
        a ^= a >> 29;
        b = (b + w) * 0xC2B2AE3D27D4EB4Full;
        b = (b << 31) | (b >> 33);
        p += k;
        n -= k;
    }
    *h0 = a;
    *h1 = b;
}
static void pc_mix_str(uint64_t *h0, uint64_t *h1, const char *s) { pc_mix(h0, h1, s, strlen(s) + 1); }

static int pc_hash_file(const char *path, uint64_t *h0, uint64_t *h1, long long *bytes)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[1 << 16];
    size_t n;
    *h0 = 0x243F6A8885A308D3ull;
    *h1 = 0x13198A2E03707344ull;
    if (!f) return 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        pc_mix(h0, h1, buf, n);
        *bytes += (long long)n;
    }
    n = (size_t)ferror(f);
    fclose(f);
    return n == 0;
}

static int pc_cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int pc_cmp_file(const void *a, const void *b) { return strcmp(((const pc_file *)a)->rel, ((const pc_file *)b)->rel); }

/* the names in folder dir longer than and beginning with prefix ("" for
   every name but . and ..), sorted, malloc'ed; -1 if dir cannot be read */
static int pc_names(const char *dir, const char *prefix, char ***names)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t np = strlen(prefix);
    int n = 0, cap = 0;
    *names = NULL;
    if (!d) return -1;
    while ((de = readdir(d)) != NULL) {
        char *name;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (strncmp(de->d_name, prefix, np) != 0 || !de->d_name[np]) continue;
        if (n == cap) {
            char **more = (char **)realloc(*names, (size_t)(cap ? 2 * cap : 32) * sizeof(char *));
            if (!more) break;
            *names = more;
            cap = cap ? 2 * cap : 32;
        }
        if (!(name = strdup(de->d_name))) break;
        (*names)[n++] = name;
    }
    closedir(d);
    if (de) { /* out of memory: as an unreadable folder */
        while (n) free((*names)[--n]);
        free(*names);
        *names = NULL;
        return -1;
    }
    if (n) qsort(*names, (size_t)n, sizeof(char *), pc_cmp_name);
    return n;
}

/* every regular file under path (a file or a folder), in name order, as
   rel "<prefix>/<relative path>" */
static void pc_walk(const char *path, const char *rel, pc_list *L)
{
    struct stat st;
    if (L->uncacheable || stat(path, &st) != 0) return;
    if (S_ISREG(st.st_mode)) {
        pc_file *e;
        if (L->n == L->cap) {
            pc_file *more = (pc_file *)realloc(L->f, (size_t)(L->cap ? 2 * L->cap : 64) * sizeof(pc_file));
            if (!more) {
                L->uncacheable = 1;
                return;
            }
            L->f = more;
            L->cap = L->cap ? 2 * L->cap : 64;
        }
        e = &L->f[L->n++];
        snprintf(e->rel, sizeof(e->rel), "%s", rel);
        if (!pc_hash_file(path, &e->h0, &e->h1, &L->bytes) || L->n > 20000 || L->bytes > (512ll << 20) ||
            strlen(rel) + 1 >= sizeof(e->rel))
            L->uncacheable = 1; /* unreadable, or too much to keep: run Python */
    } else if (S_ISDIR(st.st_mode)) {
        char **names;
        int n = pc_names(path, "", &names), i;
        if (n < 0) {
            L->uncacheable = 1; /* unreadable: run Python */
            return;
        }
        for (i = 0; i < n; i++) {
            char sub[1200], subrel[1200];
            snprintf(sub, sizeof(sub), "%s/%s", path, names[i]);
            snprintf(subrel, sizeof(subrel), "%s/%s", rel, names[i]);
            pc_walk(sub, subrel, L);
            free(names[i]);
        }
        free(names);
    }
}

/* the command's words ("script args"), at most 64, split at blanks; 0 if it
   quotes anything (then the shell's words are not these) */
static int pc_words(const char *cmd, char words[][600], int max)
{
    int n = 0;
    const char *p = cmd;
    if (strpbrk(cmd, "'\"\\$`;|&<>*?")) return 0;
    while (*p) {
        size_t k;
        while (*p == ' ') p++;
        if (!*p) break;
        k = strcspn(p, " ");
        if (n == max || k >= 600) return 0;
        memcpy(words[n], p, k);
        words[n++][k] = 0;
        p += k;
    }
    return n;
}

/* the files of every word: the file or folder it names, and the files
   beside it whose names it begins (scripts take prefixes: BART's
   name.cfl/.hdr pairs, IN.nib.raw beside IN), as "<i>+<rest of the name>" */
static void pc_inputs(char words[][600], int nw, pc_list *L)
{
    int i;
    for (i = 0; i < nw; i++) {
        char rel[700], parent[600], **names;
        const char *slash = strrchr(words[i], '/'), *base;
        int n, k;
        snprintf(rel, sizeof(rel), "%d", i);
        pc_walk(words[i], rel, L);
        if (!slash || !slash[1]) continue; /* no folder named, or only a folder */
        base = slash + 1;
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - words[i]), words[i]);
        n = pc_names(parent, base, &names);
        for (k = 0; k < n; k++) {
            char path[1300];
            snprintf(path, sizeof(path), "%s/%s", parent, names[k]);
            snprintf(rel, sizeof(rel), "%d+%s", i, names[k] + strlen(base));
            pc_walk(path, rel, L);
            free(names[k]);
        }
        free(names);
    }
}

/* the key's part that is the same for every call of this process */
static void pc_base_key(uint64_t *h0, uint64_t *h1)
{
    static int done;
    static uint64_t b0, b1;
    if (!done) {
        pc_list L;
        int i;
        memset(&L, 0, sizeof(L));
        b0 = 0x452821E638D01377ull;
        b1 = 0xBE5466CF34E90C6Cull;
        pc_mix_str(&b0, &b1, "medvol test pycache 1");
        pc_mix_str(&b0, &b1, python_exe());
        pc_walk("tests/py", "py", &L);
        for (i = 0; i < L.n; i++) {
            if (strlen(L.f[i].rel) < 3 || strcmp(L.f[i].rel + strlen(L.f[i].rel) - 3, ".py") != 0) continue;
            pc_mix_str(&b0, &b1, L.f[i].rel);
            pc_mix(&b0, &b1, &L.f[i].h0, 8);
            pc_mix(&b0, &b1, &L.f[i].h1, 8);
        }
        free(L.f);
        done = 1;
    }
    *h0 = b0;
    *h1 = b1;
}

/* the word with this process's scratch folder written as a token */
static void pc_mix_word(uint64_t *h0, uint64_t *h1, const char *w)
{
    size_t t = strlen(tmpdir);
    if (t && !strncmp(w, tmpdir, t)) {
        pc_mix_str(h0, h1, "@scratch@");
        w += t;
    }
    pc_mix_str(h0, h1, w);
}

static int pc_copy_file(const char *from, const char *to)
{
    size_t len = 0;
    unsigned char *data = tu_read_file(from, &len);
    int ok = data != NULL && tu_write_file(to, data, len);
    free(data);
    return ok;
}

/* the path a kept file goes back to: word index, then the path below it
   ("/...") or the rest of a name the word begins ("+...") */
static int pc_target(char words[][600], int nw, const char *rel, char *out, size_t cap)
{
    char *end;
    long i = strtol(rel, &end, 10);
    if (end == rel || i < 0 || i >= nw || (*end && *end != '/' && *end != '+')) return 0;
    return snprintf(out, cap, "%s%s", words[i], *end == '+' ? end + 1 : end) < (int)cap;
}

static void pc_mkdirs_for(const char *path)
{
    char d[1200];
    char *p;
    snprintf(d, sizeof(d), "%s", path);
    for (p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(d, 0755);
            *p = '/';
        }
}

static struct {
    int hits, runs;
} pc_count;

void tu_pycache_counts(int *runs, int *hits)
{
    *runs = pc_count.runs;
    *hits = pc_count.hits;
}

/* a kept result: stdout into out, the files back in place; 1 on a hit */
static int pc_restore(const char *entry, char words[][600], int nw, char *out, size_t cap)
{
    char path[1300], line[700];
    FILE *list;
    snprintf(path, sizeof(path), "%s/files.txt", entry);
    list = fopen(path, "r");
    if (!list) return 0;
    while (fgets(line, sizeof(line), list)) {
        char src[1400], dst[1200];
        int idx;
        char rel[650];
        if (sscanf(line, "%d %649s", &idx, rel) != 2 || !pc_target(words, nw, rel, dst, sizeof(dst))) {
            fclose(list);
            return 0;
        }
        snprintf(src, sizeof(src), "%s/f%d", entry, idx);
        pc_mkdirs_for(dst);
        if (!pc_copy_file(src, dst)) {
            fclose(list);
            return 0;
        }
    }
    fclose(list);
    if (out && cap) {
        size_t len = 0;
        unsigned char *text;
        snprintf(path, sizeof(path), "%s/stdout", entry);
        text = tu_read_file(path, &len);
        if (!text) return 0;
        if (len > cap - 1) len = cap - 1;
        memcpy(out, text, len);
        out[len] = 0;
        free(text);
    }
    return 1;
}

/* keeps a run's stdout and the files it wrote or changed (in the folder
   named by the key, made under another name and renamed: suites side by
   side may keep the same key; the first rename wins) */
static void pc_keep(const char *cache, const char *key, char words[][600], int nw, pc_list *before,
                    const char *text, size_t len)
{
    pc_list after;
    char tmp[1200], path[1400], dst[1200];
    FILE *list;
    int i, j, nf = 0, ok = 1;
    memset(&after, 0, sizeof(after));
    pc_inputs(words, nw, &after);
    for (i = 0; i < after.n; i++)
        if (strpbrk(after.f[i].rel, " \t\n")) after.uncacheable = 1; /* files.txt's lines are "<n> <rel>" */
    if (after.uncacheable) {
        free(after.f);
        return;
    }
    /* the walk's order is by name at each level; the merge below needs one order */
    if (after.n) qsort(after.f, (size_t)after.n, sizeof(pc_file), pc_cmp_file);
    if (before->n) qsort(before->f, (size_t)before->n, sizeof(pc_file), pc_cmp_file);
    mkdir(cache, 0755);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp%ld", cache, key, (long)getpid());
    if (mkdir(tmp, 0755) != 0) {
        free(after.f);
        return;
    }
    snprintf(path, sizeof(path), "%s/files.txt", tmp);
    list = fopen(path, "w");
    ok = list != NULL;
    for (i = 0, j = 0; ok && i < after.n; i++) {
        const pc_file *a = &after.f[i];
        int cmp = 1;
        while (j < before->n && (cmp = strcmp(before->f[j].rel, a->rel)) < 0) j++;
        if (cmp == 0 && before->f[j].h0 == a->h0 && before->f[j].h1 == a->h1) continue; /* an input, unchanged */
        snprintf(path, sizeof(path), "%s/f%d", tmp, nf);
        ok = pc_target(words, nw, a->rel, dst, sizeof(dst)) && pc_copy_file(dst, path);
        if (ok) fprintf(list, "%d %s\n", nf++, a->rel);
    }
    if (list) ok = fclose(list) == 0 && ok;
    snprintf(path, sizeof(path), "%s/stdout", tmp);
    ok = ok && tu_write_file(path, text, len);
    snprintf(path, sizeof(path), "%s/%s", cache, key);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
        if (system(path) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    free(after.f);
}

/* the script's whole stdout, its exit status */
static int pc_run(const char *cmd, char **text, size_t *len)
{
    FILE *f = popen(cmd, "r");
    size_t cap = 4096, n;
    *len = 0;
    *text = (char *)malloc(cap);
    if (!f || !*text) {
        if (f) pclose(f);
        return -1;
    }
    while ((n = fread(*text + *len, 1, cap - *len, f)) > 0) {
        *len += n;
        if (*len == cap) {
            char *more = (char *)realloc(*text, cap * 2);
            if (!more) break; /* the script's status then tells (it cannot write the rest) */
            *text = more;
            cap *= 2;
        }
    }
    return pclose(f);
}

int tu_run_py(const char *script, const char *args, char *out, size_t cap)
{
    static char words[64][600];
    char cmd[2048], line[2048], key[40], entry[1100];
    const char *cache = getenv("MEDVOL_TEST_PYCACHE");
    char *text = NULL;
    size_t len = 0;
    int st, nw = 0, i;
    pc_list before;
    uint64_t h0, h1;
    snprintf(cmd, sizeof(cmd), "%s tests/py/%s %s", python_exe(), script, args);
    snprintf(line, sizeof(line), "%s %s", script, args);
    memset(&before, 0, sizeof(before));
    /* reg_data.py and bspline_data.py build data sets in build/ and keep
       them themselves: never through the cache */
    if (cache && cache[0] && strncmp(script, "reg_data.py", 11) != 0 && strncmp(script, "bspline_data.py", 15) != 0)
        nw = pc_words(line, words, 64);
    if (nw) {
        pc_base_key(&h0, &h1);
        pc_inputs(words, nw, &before);
        for (i = 0; i < nw; i++) pc_mix_word(&h0, &h1, words[i]);
        for (i = 0; i < before.n; i++) {
            pc_mix_str(&h0, &h1, before.f[i].rel);
            pc_mix(&h0, &h1, &before.f[i].h0, 8);
            pc_mix(&h0, &h1, &before.f[i].h1, 8);
        }
        snprintf(key, sizeof(key), "%016llx%016llx", (unsigned long long)h0, (unsigned long long)h1);
        snprintf(entry, sizeof(entry), "%s/%s", cache, key);
        if (before.uncacheable) {
            nw = 0;
        } else if (pc_restore(entry, words, nw, out, cap)) {
            pc_count.hits++;
            free(before.f);
            return 0;
        }
    }
    pc_count.runs++;
    st = pc_run(cmd, &text, &len);
    if (out && cap) {
        size_t k = len < cap - 1 ? len : cap - 1;
        if (k) memcpy(out, text, k);
        out[k] = 0;
    }
    if (nw && st == 0) pc_keep(cache, key, words, nw, &before, text, len);
    free(text);
    free(before.f);
    return st;
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf && len) *len = (size_t)n;
    return buf;
}

int tu_file_has_line(const char *path, const char *line)
{
    size_t n, k = strlen(line), i;
    unsigned char *b = tu_read_file(path, &n);
    int hit = 0;
    for (i = 0; b && i + k <= n && !hit; i++)
        hit = (i == 0 || b[i - 1] == '\n') && !memcmp(b + i, line, k) && (i + k == n || b[i + k] == '\n');
    free(b);
    return hit;
}

int tu_affine_is(const mv_vol *v, const double want[3][4])
{
    int r, c;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++)
            if (v->affine[r][c] != want[r][c]) return 0;
    return 1;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
double tu_rand01(uint64_t *s) { return (double)(tu_rand(s) >> 11) / 9007199254740992.0; }

const char *tu_refs_dir(void)
{
    static int state; /* 0 unknown, 1 ok, 2 unavailable */
    static char dir[600];
    if (state == 0) {
        char args[700];
        state = 2;
        if (tu_python("numpy nibabel")) {
            snprintf(dir, sizeof(dir), "%s", tu_path("refs"));
            snprintf(args, sizeof(args), "%s", dir);
            if (tu_run_py("refs.py", args, NULL, 0) == 0) state = 1;
            else printf("    (tests/py/refs.py failed: cross-checks with numpy/nibabel will fail)\n");
        }
    }
    return state == 1 ? dir : NULL;
}

/* one-member gzip files from zlib, gzip(1), pigz and nibabel (tests/py/ref_gzpar.py), made once per run */
const char *tu_gzpar_dir(void)
{
    static int state; /* 0 unknown, 1 ok, 2 unavailable */
    static char dir[600];
    if (state == 0) {
        state = 2;
        if (tu_python("numpy nibabel")) {
            snprintf(dir, sizeof(dir), "%s", tu_path("gzpar"));
            if (tu_run_py("ref_gzpar.py", dir, NULL, 0) == 0) state = 1;
            else printf("    (tests/py/ref_gzpar.py failed)\n");
        }
    }
    return state == 1 ? dir : NULL;
}

int tu_gzpar_case(const char *name, const char *ext, unsigned char **data, size_t *n, unsigned char **raw,
                  size_t *rawn)
{
    char path[700];
    const char *dir = tu_gzpar_dir();
    *data = *raw = NULL;
    if (!dir) return 0;
    snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
    *data = tu_read_file(path, n);
    snprintf(path, sizeof(path), "%s/%s.raw", dir, name);
    *raw = tu_read_file(path, rawn);
    if (*data && *raw) return 1;
    free(*data);
    free(*raw);
    *data = *raw = NULL;
    return 0;
}

int tu_batch_open(tu_batch *b, const char *name)
{
    char path[600];
    snprintf(b->dir, sizeof(b->dir), "%s", tu_path(name));
    b->n = 0;
    b->list = NULL;
    if (mkdir(b->dir, 0700) != 0 && errno != EEXIST) return 0;
    snprintf(path, sizeof(path), "%s/cases.txt", b->dir);
    b->list = fopen(path, "w");
    return b->list != NULL;
}

int tu_batch_case(tu_batch *b)
{
    int id = b->n++;
    fprintf(b->list, "c%d ", id);
    return id;
}

void tu_batch_write(const tu_batch *b, int id, const char *ext, const void *data, size_t bytes)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/c%d.%s", b->dir, id, ext);
    tu_write_file(path, data, bytes);
}

int tu_batch_run(tu_batch *b, const char *script)
{
    fclose(b->list);
    b->list = NULL;
    if (tu_run_py(script, b->dir, NULL, 0) != 0) {
        MVT_FAIL("tests/py/%s failed on %s", script, b->dir);
        return 0;
    }
    return 1;
}

void *tu_batch_read(const tu_batch *b, int id, const char *ext, size_t bytes)
{
    char path[700];
    size_t len = 0;
    void *p;
    snprintf(path, sizeof(path), "%s/c%d.%s", b->dir, id, ext);
    p = tu_read_file(path, &len);
    if (!p || len != bytes) {
        MVT_FAIL("reference %s: %zu bytes, %zu expected", path, p ? len : (size_t)0, bytes);
        free(p);
        return NULL;
    }
    return p;
}

/* ---- json.h ---- */
typedef struct jp {
    const char *s;
    int err;
} jp;

static void jp_ws(jp *p)
{
    while (*p->s && isspace((unsigned char)*p->s)) p->s++;
}

static int jp_value(jp *p, tj *out);

static char *jp_string(jp *p)
{
    const char *s = p->s + 1;
    size_t cap = 16, n = 0;
    char *buf = (char *)malloc(cap);
    while (*s && *s != '"') {
        char c = *s++;
        if (c == '\\') {
            c = *s++;
            if (c == 'n') c = '\n';
            else if (c == 't') c = '\t';
            else if (c == 'r') c = '\r';
            else if (c == 'b') c = '\b';
            else if (c == 'f') c = '\f';
            else if (c == 'u') { /* keep ASCII, replace the rest */
                unsigned v = 0;
                int k;
                for (k = 0; k < 4 && s[k]; k++) v = v * 16 + (unsigned)(isdigit((unsigned char)s[k]) ? s[k] - '0' : (tolower((unsigned char)s[k]) - 'a' + 10));
                s += 4;
                c = v < 128 ? (char)v : '?';
            }
        }
        if (n + 2 > cap) buf = (char *)realloc(buf, cap *= 2);
        buf[n++] = c;
    }
    buf[n] = 0;
    if (*s != '"') p->err = 1;
    else s++;
    p->s = s;
    return buf;
}

static int jp_value(jp *p, tj *out)
{
    memset(out, 0, sizeof(*out));
    jp_ws(p);
    if (*p->s == '{' || *p->s == '[') {
        int obj = *p->s == '{';
        int cap = 8;
        out->type = obj ? TJ_OBJ : TJ_ARR;
        out->items = (tj *)malloc(cap * sizeof(tj));
        if (obj) out->keys = (char **)malloc(cap * sizeof(char *));
        p->s++;
        jp_ws(p);
        if (*p->s == (obj ? '}' : ']')) {
            p->s++;
            return 1;
        }
        for (;;) {
            if (out->n == cap) {
                cap *= 2;
                out->items = (tj *)realloc(out->items, cap * sizeof(tj));
                if (obj) out->keys = (char **)realloc(out->keys, cap * sizeof(char *));
            }
            if (obj) {
                jp_ws(p);
                if (*p->s != '"') return p->err = 1, 0;
                out->keys[out->n] = jp_string(p);
                jp_ws(p);
                if (*p->s != ':') return p->err = 1, 0;
                p->s++;
            }
            if (!jp_value(p, &out->items[out->n])) return 0;
            out->n++;
            jp_ws(p);
            if (*p->s == ',') {
                p->s++;
                continue;
            }
            if (*p->s == (obj ? '}' : ']')) {
                p->s++;
                return 1;
            }
            return p->err = 1, 0;
        }
    }
    if (*p->s == '"') {
        out->type = TJ_STR;
        out->str = jp_string(p);
        return !p->err;
    }
    if (strncmp(p->s, "true", 4) == 0 || strncmp(p->s, "false", 5) == 0) {
        out->type = TJ_BOOL;
        out->num = p->s[0] == 't';
        p->s += p->s[0] == 't' ? 4 : 5;
        return 1;
    }
    if (strncmp(p->s, "null", 4) == 0) {
        out->type = TJ_NULL;
        p->s += 4;
        return 1;
    }
    if (strncmp(p->s, "NaN", 3) == 0) {
        out->type = TJ_NUM;
        out->num = NAN;
        p->s += 3;
        return 1;
    }
    {
        char *end;
        out->type = TJ_NUM;
        out->num = strtod(p->s, &end);
        if (end == p->s) return p->err = 1, 0;
        p->s = end;
        return 1;
    }
}

static void tj_free_inner(tj *v)
{
    int i;
    if (v->type == TJ_STR) free(v->str);
    if (v->type == TJ_ARR || v->type == TJ_OBJ) {
        for (i = 0; i < v->n; i++) {
            tj_free_inner(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

tj *tj_parse(const char *text)
{
    jp p;
    tj *v = (tj *)malloc(sizeof(tj));
    p.s = text;
    p.err = 0;
    if (!jp_value(&p, v) || p.err) {
        tj_free_inner(v);
        free(v);
        return NULL;
    }
    return v;
}
tj *tj_parse_file(const char *path)
{
    size_t n;
    unsigned char *t = tu_read_file(path, &n);
    tj *v;
    if (!t) return NULL;
    t = (unsigned char *)realloc(t, n + 1);
    t[n] = 0;
    v = tj_parse((const char *)t);
    free(t);
    return v;
}
void tj_free(tj *v)
{
    if (!v) return;
    tj_free_inner(v);
    free(v);
}
const tj *tj_get(const tj *o, const char *key)
{
    int i;
    if (!o || o->type != TJ_OBJ) return NULL;
    for (i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return &o->items[i];
    return NULL;
}
const tj *tj_at(const tj *a, int i) { return a && a->type == TJ_ARR && i >= 0 && i < a->n ? &a->items[i] : NULL; }
double tj_num(const tj *v, double def) { return v && (v->type == TJ_NUM || v->type == TJ_BOOL) ? v->num : def; }
const char *tj_str(const tj *v, const char *def) { return v && v->type == TJ_STR ? v->str : def; }

/* ---- the runner ---- */
int main(int argc, char **argv)
{
    const char *filter[64]; /* a test runs if its name contains any of them */
    const char *skip[64];   /* ... and none of these */
    int i, k, nfilter = 0, nskip = 0, passed = 0, failed = 0, skipped = 0, list = 0;
    size_t n = sizeof(mvt_tests) / sizeof(mvt_tests[0]);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc && nfilter < 64) filter[nfilter++] = argv[++i];
        else if (strcmp(argv[i], "--skip") == 0 && i + 1 < argc && nskip < 64) skip[nskip++] = argv[++i];
        else if (strcmp(argv[i], "--list") == 0) list = 1;
        else {
            fprintf(stderr, "usage: %s [--filter SUBSTRING]... [--skip SUBSTRING]... [--list]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!list) printf("%s\n", mv_build_info());
    for (i = 0; i < (int)n; i++) {
        char full[256];
        double t0;
        snprintf(full, sizeof(full), "%s.%s", mvt_tests[i].area, mvt_tests[i].name);
        for (k = 0; k < nfilter && !strstr(full, filter[k]); k++) {
        }
        if (nfilter && k == nfilter) continue;
        for (k = 0; k < nskip && !strstr(full, skip[k]); k++) {
        }
        if (k < nskip) {
            if (!list) printf("SKIP %s: --skip %s\n", full, skip[k]);
            if (!list) skipped++;
            continue;
        }
        if (list) {
            printf("%s\n", full);
            continue;
        }
        if (!mvt_tests[i].fn) {
            printf("FAIL %s: selected, but its file is not built into this suite (MVT_PARTIAL_SUITE)\n", full);
            failed++;
            continue;
        }
        memset(&mvt_cur, 0, sizeof(mvt_cur));
        mvt_cur.test = full;
        t0 = now_ms();
        mvt_tests[i].fn();
        if (mvt_cur.failures) {
            printf("FAIL %s (%d failures, %.1f ms)\n", full, mvt_cur.failures, now_ms() - t0);
            failed++;
        } else if (mvt_cur.skipped) {
            printf("SKIP %s: %s\n", full, mvt_cur.skip_reason);
            skipped++;
        } else {
            printf("pass %s (%.1f ms)\n", full, now_ms() - t0);
            passed++;
        }
    }
    if (list) return 0;
    if (tmpdir[0] && failed == 0) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d skipped\n", skipped);
    if (pc_count.hits) printf("Python references: %d run, %d from MEDVOL_TEST_PYCACHE\n", pc_count.runs, pc_count.hits);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
