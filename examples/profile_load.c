/* profile_load [size] [iterations] [--isa NAME] [--threads N]
   Writes a synthetic size^3 volume (int16 with scaling, and float32) and
   times loading it: read into fresh memory, mmap, crop-first of a centred
   (size/2)^3 box, int16 -> scaled float32 conversion (into a warm buffer and
   into fresh memory), and the fused scaled load; each beside memcpy of the
   same bytes in the same run. Files are read from the page cache (what
   repeated loads see); a cold first read is limited by the disk instead. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"

#include <sys/stat.h>

typedef struct load_ctx {
    const char *path;
    mv_load_opts o;
    mv_status st;
} load_ctx;
static void do_load(void *c)
{
    load_ctx *l = (load_ctx *)c;
    mv_vol v;
    l->st = mv_load(l->path, &v, &l->o);
    mv_free(&v);
}

/* mv_load_io from a stream whose bytes are ready, as a pipe gives them
   (at most 64 KiB a read) */
typedef struct pipe_ctx {
    const unsigned char *bytes;
    size_t len, pos;
    mv_load_opts o;
    mv_status st;
} pipe_ctx;
static size_t pipe_read(void *user, void *buf, size_t n)
{
    pipe_ctx *p = (pipe_ctx *)user;
    size_t k = n < ((size_t)64 << 10) ? n : ((size_t)64 << 10);
    if (k > p->len - p->pos) k = p->len - p->pos;
    memcpy(buf, p->bytes + p->pos, k);
    p->pos += k;
    return k;
}
static void do_load_io(void *c)
{
    pipe_ctx *p = (pipe_ctx *)c;
    mv_io io;
    mv_vol v;
    memset(&io, 0, sizeof(io));
    io.read = pipe_read;
    io.user = p;
    p->pos = 0;
    p->st = mv_load_io(&io, &v, &p->o);
    mv_free(&v);
}
static unsigned char *slurp_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(b = (unsigned char *)malloc((size_t)n + 1)) || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "profile_load: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

typedef struct cvt_ctx {
    const void *src;
    float *dst;
    size_t n;
    mv_convert_opts o;
    int fresh;
} cvt_ctx;
static void do_convert(void *c)
{
    cvt_ctx *k = (cvt_ctx *)c;
    if (k->fresh) { /* allocate like a library call that returns a new volume */
        mv_vol src, out;
        int64_t n = (int64_t)k->n;
        mv_vol_wrap(&src, (void *)k->src, MV_DT_I16, 1, &n);
        src.meta.scl_slope = k->o.slope;
        src.meta.scl_inter = k->o.inter;
        mv_convert(&src, &out, MV_DT_F32, &k->o);
        mv_free(&out);
    } else {
        mv_convert_buffer(k->src, MV_DT_I16, k->dst, MV_DT_F32, k->n, &k->o);
    }
}

static void check(mv_status st)
{
    if (st != MV_OK) {
        fprintf(stderr, "profile_load: %s: %s\n", mv_status_str(st), mv_last_error());
        exit(1);
    }
}

static void profile_file(const char *path, const mv_vol *v, int iters, int threads)
{
    char name[96];
    size_t bytes = mv_vol_bytes(v), half = (size_t)(v->dim[0] / 2), box_bytes = half * half * half * mv_dtype_size(v->dtype);
    prof_result base = prof_memcpy(bytes, iters), base_box = prof_memcpy(box_bytes, iters), r;
    load_ctx l;
    const char *dt = mv_dtype_name(v->dtype);
    memset(&l, 0, sizeof(l));
    l.path = path;
    l.o.threads = threads;
    snprintf(name, sizeof(name), "memcpy %zu MB (warm dst)", bytes >> 20);
    prof_row(name, base, bytes, base);
    l.o.mmap = MV_MMAP_NEVER;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s read into fresh memory", dt);
    prof_row(name, r, bytes, base);
    l.o.mmap = MV_MMAP_REQUIRE;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s mmap load (zero copy)", dt);
    prof_row(name, r, bytes, base);
    l.o.mmap = MV_MMAP_AUTO;
    l.o.box_start[0] = l.o.box_start[1] = l.o.box_start[2] = v->dim[0] / 4;
    l.o.box_size[0] = l.o.box_size[1] = l.o.box_size[2] = (int64_t)half;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s crop-first %zu^3 box (vs box memcpy)", dt, half);
    prof_row(name, r, box_bytes, base_box);
    memset(&l.o, 0, sizeof(l.o));
    l.o.threads = threads;
    l.o.scaled = 1;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s -> scaled float32 load (fused)", dt);
    prof_row(name, r, bytes, base);
}

/* .nii.gz: medvol's indexed file (members decoded in parallel) and one
   member as gzip(1) writes it; full loads check every member's CRC-32 */
static void profile_gz(const char *indexed, const char *single, const mv_vol *v, int iters, int threads)
{
    char name[96];
    size_t bytes = mv_vol_bytes(v);
    prof_result base = prof_memcpy(bytes, iters), r;
    load_ctx l;
    const char *dt = mv_dtype_name(v->dtype);
    memset(&l, 0, sizeof(l));
    l.o.threads = threads;
    l.path = indexed;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s .nii.gz (medvol, indexed) load", dt);
    prof_row(name, r, bytes, base);
    l.o.scaled = 1;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s .nii.gz (medvol) -> scaled float32", dt);
    prof_row(name, r, bytes, base);
    l.o.scaled = 0;
    l.path = single;
    r = prof_run(do_load, &l, iters);
    check(l.st);
    snprintf(name, sizeof(name), "%s .nii.gz (one member, as gzip) load", dt);
    prof_row(name, r, bytes, base);
    { /* the same two files through mv_load_io, as from a pipe */
        const char *paths[2] = {indexed, single}, *what[2] = {"medvol", "one member"};
        int k;
        for (k = 0; k < 2; k++) {
            pipe_ctx p;
            memset(&p, 0, sizeof(p));
            p.bytes = slurp_file(paths[k], &p.len);
            p.o.threads = threads;
            r = prof_run(do_load_io, &p, iters);
            check(p.st);
            snprintf(name, sizeof(name), "%s .nii.gz (%s) mv_load_io, a pipe", dt, what[k]);
            prof_row(name, r, bytes, base);
            free((void *)p.bytes);
        }
    }
}

int main(int argc, char **argv)
{
    int64_t size;
    int iters, t, tcount[2];
    mv_vol i16, f32;
    const char *dir = "build/profile-tmp";
    char p16[256], p32[256], g16[256], s16[256];
    mv_save_opts single;
    argc = prof_options(argc, argv);
    size = argc > 1 ? atoll(argv[1]) : 128;
    iters = argc > 2 ? atoi(argv[2]) : 10;
    if (size < 2 || iters < 1) {
        fprintf(stderr, "usage: profile_load [size] [iterations] [--isa NAME] [--threads N]\n");
        return 2;
    }
    mkdir("build", 0755);
    mkdir(dir, 0755);
    snprintf(p16, sizeof(p16), "%s/load_i16_%lld.nii", dir, (long long)size);
    snprintf(p32, sizeof(p32), "%s/load_f32_%lld.nii", dir, (long long)size);
    check(mv_phantom_smooth(&i16, MV_DT_I16, size, size, size, 1));
    i16.meta.scl_slope = 0.5;
    i16.meta.scl_inter = 10;
    check(mv_phantom_smooth(&f32, MV_DT_F32, size, size, size, 1));
    check(mv_save(p16, &i16, NULL));
    check(mv_save(p32, &f32, NULL));
    snprintf(g16, sizeof(g16), "%s/load_i16_%lld.nii.gz", dir, (long long)size);
    snprintf(s16, sizeof(s16), "%s/load_i16_%lld-single.nii.gz", dir, (long long)size);
    memset(&single, 0, sizeof(single));
    single.gzip.single_member = 1;
    check(mv_save(g16, &i16, NULL));
    check(mv_save(s16, &i16, &single));
    prof_header("profile_load");
    printf("# %lld^3 volumes, %d iterations; files in the page cache\n", (long long)size, iters);
    tcount[0] = 1;
    tcount[1] = mv_threads();
    for (t = 0; t < (tcount[1] > 1 ? 2 : 1); t++) {
        cvt_ctx c;
        size_t n = (size_t)mv_vol_count(&i16);
        prof_result base = prof_memcpy(n * 2, iters), r;
        printf("## %d thread%s\n", tcount[t], tcount[t] > 1 ? "s" : "");
        profile_file(p16, &i16, iters, tcount[t]);
        profile_file(p32, &f32, iters, tcount[t]);
        profile_gz(g16, s16, &i16, iters, tcount[t]);
        memset(&c, 0, sizeof(c));
        c.src = i16.data;
        c.n = n;
        c.dst = (float *)malloc(n * 4);
        memset(c.dst, 0, n * 4); /* warm */
        c.o.scaled = 1;
        c.o.slope = 0.5;
        c.o.inter = 10;
        c.o.threads = tcount[t];
        prof_row("memcpy of the int16 bytes", base, n * 2, base);
        r = prof_run(do_convert, &c, iters);
        prof_row("int16 -> scaled float32, warm dst", r, n * 2, base);
        c.fresh = 1;
        r = prof_run(do_convert, &c, iters);
        prof_row("int16 -> scaled float32, fresh dst", r, n * 2, base);
        free(c.dst);
    }
    mv_free(&i16);
    mv_free(&f32);
    remove(p16);
    remove(p32);
    remove(g16);
    remove(s16);
    return 0;
}
