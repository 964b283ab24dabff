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
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* MVT_PARTIAL_SUITE: a suite built from some of the test files (the TSan
   and FFTW suites, which run a --filter of the tests): the others' tests
   are weak references, null here, and selecting one is a failure (a filter
   that names a test the suite's build left out must not pass silently).
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

int tu_run_py(const char *script, const char *args, char *out, size_t cap)
{
    char cmd[2048];
    FILE *f;
    size_t n = 0;
    int st;
    snprintf(cmd, sizeof(cmd), "%s tests/py/%s %s", python_exe(), script, args);
    f = popen(cmd, "r");
    if (!f) return -1;
    if (out && cap) {
        n = fread(out, 1, cap - 1, f);
        out[n] = 0;
    } else {
        char sink[4096];
        while (fread(sink, 1, sizeof(sink), f) > 0) {
        }
    }
    st = pclose(f);
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
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
