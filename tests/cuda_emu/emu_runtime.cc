/* emu_runtime.cc - the CUDA emulator's engine (tests only; the contract and
   what it checks are in include/cuda_runtime.h).

   Contents
      >>emu-state     errors, the allocation map, the queue
      >>emu-fibers    one fiber per GPU thread, the context switch
      >>emu-block     the block scheduler: barriers, warp shuffles
      >>emu-launch    launch checks, grids
      >>emu-memory    allocations, copies, memsets, pointer attributes
      >>emu-api       devices, streams, events, errors

   Environment
      MV_EMU_SHUFFLE=SEED   run blocks, and the threads of a block between
                            barriers, in a shuffled order (default: in order)
      MV_EMU_RACECHECK=1    run every grid forward and in reverse from the
                            same device memory and fail a kernel whose
                            result differs (a race)
      MV_EMU_DEVICES=0      report no device (the SKIPPED path)
      MV_EMU_MEM_GB=N       device memory (default 12): more is
                            cudaErrorMemoryAllocation, as an out-of-memory GPU
      MV_EMU_VERBOSE=1      a line per launch on stderr */
#include "cuda_runtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define MV_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MV_EMU_ASAN 1
#endif
#endif
#ifdef MV_EMU_ASAN
extern "C" void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif

struct CUstream_st {
    int id;
};
struct CUevent_st {
    double t;      /* seconds, when the queue reached the record */
    int pending;   /* recorded but not reached yet */
    int recorded;
};

namespace mv_emu {

thread_local uint3 t_threadIdx, t_blockIdx;
thread_local dim3 t_blockDim, t_gridDim;

/* >>emu-state ================================================================ */

static cudaError_t g_last = cudaSuccess;   /* cudaGetLastError's: launch checks */
static cudaError_t g_sticky = cudaSuccess; /* a failure inside queued work */
static std::vector<std::function<void()>> g_queue;
static int g_flushing;

static void report(const char *fmt, va_list ap)
{
    fputs("mv_emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(fmt, ap);
    va_end(ap);
}

/* A failure CUDA would make sticky (an illegal barrier, a bad queued copy):
   it is printed at once and returned by the next synchronisation and by
   cudaGetLastError, then cleared, so that later test groups still run (a
   GPU would keep it until the process ends). */
void set_sticky_error(cudaError_t e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(fmt, ap);
    va_end(ap);
    if (g_sticky == cudaSuccess) g_sticky = e;
}

static cudaError_t take_sticky(void)
{
    cudaError_t e = g_sticky;
    g_sticky = cudaSuccess;
    return e;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *env(const char *name) { return getenv(name); }

/* Device blocks (cudaMalloc / cudaMallocAsync) and pinned host ranges
   (cudaMallocHost, cudaHostRegister), by start address. */
enum { KIND_DEVICE = 2, KIND_PINNED = 1 };
struct range {
    size_t size;
    int kind;
    int owned; /* pinned: from cudaMallocHost (freed by cudaFreeHost) */
};
static std::map<uintptr_t, range> g_ranges;
/* The map and the queue. Queued work runs on the thread that synchronises,
   in fibers whose state is global: one host thread drives the emulator
   (tests/test_cuda.cu and the examples use one). */
static std::mutex g_lock;
static size_t g_device_bytes;

static std::map<uintptr_t, range>::iterator range_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    auto it = g_ranges.upper_bound(a);
    if (it == g_ranges.begin()) return g_ranges.end();
    --it;
    if (a >= it->first && (a < it->first + it->second.size || (it->second.size == 0 && a == it->first))) return it;
    return g_ranges.end();
}

int where(const void *p, size_t n)
{
    std::lock_guard<std::mutex> hold(g_lock);
    auto it = range_of(p);
    if (it == g_ranges.end()) return 0;
    if (it->second.kind == KIND_PINNED) return 1;
    return (uintptr_t)p + n <= it->first + it->second.size ? 2 : -1;
}

void enqueue(cudaStream_t, std::function<void()> op)
{
    std::lock_guard<std::mutex> hold(g_lock);
    g_queue.push_back(std::move(op));
}

/* Run everything queued, in order: the host's synchronisation point. */
static void flush(void)
{
    std::vector<std::function<void()>> ops;
    if (g_flushing) return;
    g_flushing = 1;
    for (;;) {
        {
            std::lock_guard<std::mutex> hold(g_lock);
            ops.swap(g_queue);
        }
        if (ops.empty()) break;
        for (auto &op : ops) op();
        ops.clear();
    }
    g_flushing = 0;
}

/* >>emu-fibers =============================================================== */

/* Each GPU thread of a block runs on a fiber with its own stack; fibers are
   reused from block to block. A fiber gives control back to the scheduler
   when its thread ends or waits at a barrier. The switch saves only the
   callee-saved registers (the System V x86-64 ABI's), as a function call
   would; elsewhere ucontext does it (slower: it also saves the signal mask). */
enum { STACK_BYTES = 256 * 1024, MAX_THREADS = 1024 };
enum { F_IDLE, F_READY, F_WAIT_BLOCK, F_WAIT_WARP, F_DONE };

struct fiber {
    void *sp;
    char *stack; /* lowest address; a guard page below it */
    int state;
    unsigned wait_gen;
    uint3 tid;
    int linear; /* linear thread index in the block */
    void *fake; /* ASan's fake stack while the fiber is switched out */
};

static fiber g_fibers[MAX_THREADS];
static int g_fiber_count;
static fiber *g_cur;
static void *g_sched_sp;
static const std::function<void()> *g_body;

#ifdef MV_EMU_ASAN /* ASan is told of every switch, so it knows which stack is in use */
static void *g_sched_fake;
static const void *g_sched_bottom;
static size_t g_sched_size;
#endif

#ifdef __x86_64__
extern "C" void mv_emu_swap(void **save_sp, void *to_sp);
__asm__(".text\n"
        ".globl mv_emu_swap\n"
        ".type mv_emu_swap,@function\n"
        "mv_emu_swap:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size mv_emu_swap,.-mv_emu_swap\n");
#else
#error "tests/cuda_emu: the fiber switch is written for x86-64 (add a ucontext path for other machines)"
#endif

static void block_thread_done(void);

static int g_pos;          /* the running fiber's place in the block's order */
static const int *g_order; /* the block's order: fiber indices */
static int g_from_sched;   /* the switch in progress comes from the scheduler */
static fiber *next_runnable(int from);

#ifdef MV_EMU_ASAN
/* After a switch into a fiber: ASan learns where the stack left behind
   lies; the scheduler's is kept for switches back to it. */
static void asan_arrived(void *fake)
{
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &bottom, &size);
    if (g_from_sched) g_sched_bottom = bottom, g_sched_size = size;
}
#endif

/* From a fiber (at a barrier, or at its thread's end): hand control to the
   next fiber of this pass that can run, or back to the scheduler, which
   starts the next pass. The direct handoff halves a barrier's switches
   (each costs a mispredicted return). The fiber goes on from here when it
   is switched to again. */
static void fiber_yield(void)
{
    fiber *f = g_cur, *to = next_runnable(g_pos + 1);
#ifdef MV_EMU_ASAN
    __sanitizer_start_switch_fiber(&f->fake, to ? (const void *)to->stack : g_sched_bottom,
                                   to ? (size_t)STACK_BYTES : g_sched_size);
#endif
    g_from_sched = 0;
    if (to) {
        g_cur = to;
        t_threadIdx = to->tid;
        mv_emu_swap(&f->sp, to->sp);
    } else {
        mv_emu_swap(&f->sp, g_sched_sp);
    }
#ifdef MV_EMU_ASAN
    asan_arrived(f->fake);
#endif
}

/* A fiber's life: run the current launch's body for the thread it is given,
   mark it done, hand control on; when switched to again, run the next thread. */
static void fiber_main(void)
{
#ifdef MV_EMU_ASAN
    asan_arrived(NULL);
#endif
    for (;;) {
        (*g_body)();
        block_thread_done();
        fiber_yield();
    }
}

static int fiber_make(fiber *f)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = (char *)mmap(NULL, STACK_BYTES + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
    if (m == MAP_FAILED) return 0;
    mprotect(m, page, PROT_NONE); /* a stack overflow faults instead of writing the next stack */
    f->stack = m + page;
    /* The first switch "returns" into fiber_main as if called: rsp % 16 == 8 there. */
    uintptr_t top = ((uintptr_t)f->stack + STACK_BYTES) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = NULL;                 /* fiber_main's return address: it never returns */
    *--sp = (void *)&fiber_main;  /* popped by the switch's ret */
    for (int r = 0; r < 6; r++) *--sp = NULL; /* rbp rbx r12 r13 r14 r15 */
    f->sp = sp;
    return 1;
}

/* Switch from the scheduler into f; back when the pass has no fiber left to run. */
static void fiber_run(fiber *f)
{
    g_cur = f;
    t_threadIdx = f->tid;
#ifdef MV_EMU_ASAN
    __sanitizer_start_switch_fiber(&g_sched_fake, f->stack, STACK_BYTES);
#endif
    g_from_sched = 1;
    mv_emu_swap(&g_sched_sp, f->sp);
#ifdef MV_EMU_ASAN
    __sanitizer_finish_switch_fiber(g_sched_fake, NULL, NULL);
#endif
}

/* >>emu-block ================================================================ */

/* The state of the block being run. A barrier is a generation count: a
   thread that arrives waits until the generation moves on, which happens
   when every thread still running has arrived. */
struct warp_state {
    int live;       /* its threads not yet ended */
    int arrived;
    unsigned gen;
    unsigned long long slot[32];
};
struct block_state {
    int n, live, arrived;
    unsigned gen;
    const char *kernel;
    int failed; /* a barrier error: reported once per launch */
    warp_state warps[MAX_THREADS / 32];
};
static block_state g_block;
static std::vector<unsigned char> g_dyn_shared;
static uint64_t g_shuffle_seed;
static int g_racecheck;

static void block_error(const char *what)
{
    if (!g_block.failed)
        set_sticky_error(cudaErrorLaunchFailure,
                         "%s: %s (block %u,%u,%u thread %u,%u,%u); compute-sanitizer's synccheck would report it",
                         g_block.kernel, what, t_blockIdx.x, t_blockIdx.y, t_blockIdx.z, t_threadIdx.x, t_threadIdx.y,
                         t_threadIdx.z);
    g_block.failed = 1;
}

void syncthreads(void)
{
    fiber *f = g_cur;
    if (!f) return; /* called on the host: nothing to wait for */
    if (++g_block.arrived == g_block.live) {
        g_block.arrived = 0;
        g_block.gen++;
        return;
    }
    f->state = F_WAIT_BLOCK;
    f->wait_gen = g_block.gen;
    while (f->state == F_WAIT_BLOCK) fiber_yield();
}

static void block_thread_done(void)
{
    fiber *f = g_cur;
    warp_state *w = &g_block.warps[f->linear / 32];
    f->state = F_DONE;
    g_block.live--;
    w->live--;
    /* A thread that ends while others wait at a barrier: the barrier is
       divergent (CUDA: undefined; the waiting threads are released so the
       run can go on). */
    if (g_block.arrived > 0) {
        block_error("__syncthreads reached by only part of the block (a thread ended before it)");
        if (g_block.arrived == g_block.live) {
            g_block.arrived = 0;
            g_block.gen++;
        }
    }
    if (w->arrived > 0) {
        block_error("a warp shuffle waits for a lane that has ended");
        if (w->arrived == w->live) {
            w->arrived = 0;
            w->gen++;
        }
    }
}

static void warp_barrier(warp_state *w)
{
    fiber *f = g_cur;
    if (++w->arrived == w->live) {
        w->arrived = 0;
        w->gen++;
        return;
    }
    f->state = F_WAIT_WARP;
    f->wait_gen = w->gen;
    while (f->state == F_WAIT_WARP) fiber_yield();
}

unsigned long long shfl_down_u64(unsigned int mask, unsigned long long v, unsigned int delta, int width)
{
    fiber *f = g_cur;
    if (!f) return v;
    int lane = f->linear % 32, first = f->linear - lane;
    warp_state *w = &g_block.warps[f->linear / 32];
    unsigned long long r;
    /* every lane the mask names must exist and take part */
    int exist = g_block.n - first < 32 ? g_block.n - first : 32;
    unsigned want = exist == 32 ? 0xffffffffu : (1u << exist) - 1u;
    if ((mask & want) != mask || __builtin_popcount(mask) != w->live)
        block_error("a warp shuffle's mask names lanes that do not exist or have ended");
    if (!(mask >> lane & 1u)) block_error("a lane outside the shuffle's mask called it");
    w->slot[lane] = v;
    warp_barrier(w);
    r = (lane % width) + (int)delta < width && lane + (int)delta < exist ? w->slot[lane + delta] : v;
    warp_barrier(w); /* nobody overwrites a slot before every lane has read */
    return r;
}

/* __syncwarp: the lanes the mask names wait for each other (every lane of
   the warp that still runs, as a shuffle's mask must name them) */
void syncwarp(unsigned int mask)
{
    fiber *f = g_cur;
    if (!f) return;
    int lane = f->linear % 32, first = f->linear - lane;
    warp_state *w = &g_block.warps[f->linear / 32];
    int exist = g_block.n - first < 32 ? g_block.n - first : 32;
    unsigned want = exist == 32 ? 0xffffffffu : (1u << exist) - 1u;
    if ((mask & want) != mask || __builtin_popcount(mask) != w->live)
        block_error("a __syncwarp's mask names lanes that do not exist or have ended");
    if (!(mask >> lane & 1u)) block_error("a lane outside the __syncwarp's mask called it");
    warp_barrier(w);
}

void *dynamic_shared(void) { return g_dyn_shared.data(); }

/* The first fiber at or after place `from` in the order that can run (one
   whose barrier has been released counts), or NULL. */
static fiber *next_runnable(int from)
{
    for (int k = from; k < g_block.n; k++) {
        fiber *f = &g_fibers[g_order[k]];
        if (f->state == F_WAIT_BLOCK && f->wait_gen != g_block.gen) f->state = F_READY;
        if (f->state == F_WAIT_WARP && f->wait_gen != g_block.warps[f->linear / 32].gen) f->state = F_READY;
        if (f->state == F_READY) {
            g_pos = k;
            return f;
        }
    }
    return NULL;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The order in which blocks, and the threads of a block between barriers,
   run: a race-free kernel gives the same bytes in any of them. */
enum order_mode { ORDER_FORWARD, ORDER_REVERSE, ORDER_SHUFFLE };

template <typename T> static void order_fill(std::vector<T> &v, size_t n, order_mode mode, uint64_t seed)
{
    v.resize(n);
    for (size_t i = 0; i < n; i++) v[i] = (T)(mode == ORDER_REVERSE ? n - 1 - i : i);
    if (mode == ORDER_SHUFFLE)
        for (size_t i = n; i > 1; i--) std::swap(v[i - 1], v[(size_t)(mix64(seed + i) % i)]);
}

/* Run one block: every thread from its start until it ends, passing the
   barriers together, the threads in the given order. */
static void run_block(const dim3 &b, const std::function<void()> &body, order_mode mode, uint64_t seed)
{
    int n = (int)(b.x * b.y * b.z);
    static std::vector<int> order;
    order_fill(order, (size_t)n, mode, seed);
    while (g_fiber_count < n) {
        if (!fiber_make(&g_fibers[g_fiber_count])) {
            set_sticky_error(cudaErrorLaunchOutOfResources, "%s: no memory for fiber stacks", g_block.kernel);
            return;
        }
        g_fiber_count++;
    }
    g_block.n = g_block.live = n;
    g_block.arrived = 0;
    g_block.gen = 0;
    for (int w = 0; w < (n + 31) / 32; w++) {
        g_block.warps[w].live = n - 32 * w < 32 ? n - 32 * w : 32;
        g_block.warps[w].arrived = 0;
        g_block.warps[w].gen = 0;
    }
    for (int i = 0; i < n; i++) {
        fiber *f = &g_fibers[i];
        f->state = F_READY;
        f->linear = i;
        f->tid.x = (unsigned)i % b.x;
        f->tid.y = (unsigned)i / b.x % b.y;
        f->tid.z = (unsigned)i / (b.x * b.y);
    }
    g_body = &body;
    g_order = order.data();
    while (g_block.live > 0) { /* a pass: the fibers that can run, in order, each handing on to the next */
        fiber *f = next_runnable(0);
        if (!f) break;
        fiber_run(f);
    }
    if (g_block.live > 0) {
        /* every thread left waits and none can release them */
        block_error("deadlock: threads wait at a barrier that the others never reach");
        for (int i = 0; i < n; i++) g_fibers[i].state = F_IDLE; /* their stacks are abandoned */
        g_fiber_count = 0; /* fresh fibers for the next block (the old stacks leak: a failed run) */
    }
    g_cur = NULL;
}

/* >>emu-launch =============================================================== */

static int g_verbose;

static int config_ok(const launch_cfg &c, const char *name)
{
    const dim3 &g = c.grid, &b = c.block;
    unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
    const char *why = NULL;
    cudaError_t e = cudaErrorInvalidConfiguration;
    char buf[160];
    if (!b.x || !b.y || !b.z || !g.x || !g.y || !g.z) why = "a zero grid or block dimension";
    else if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024) why = "more than 1024 threads in a block";
    else if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) why = "grid dimension past the limit (y and z <= 65535)";
    else if (c.shared > 48 * 1024) {
        why = "more than 48 KiB of dynamic shared memory without cudaFuncSetAttribute";
        e = cudaErrorInvalidValue;
    }
    if (!why) return 1;
    snprintf(buf, sizeof buf, "grid (%u,%u,%u) block (%u,%u,%u) shared %zu", g.x, g.y, g.z, b.x, b.y, b.z, c.shared);
    say("launch of %s failed: %s: %s", name, why, buf);
    g_last = e;
    return 0;
}

static void run_grid(const launch_cfg &cc, const char *name, const std::function<void()> &body, order_mode mode)
{
    unsigned long long nb = (unsigned long long)cc.grid.x * cc.grid.y * cc.grid.z, k;
    static std::vector<unsigned long long> order;
    uint64_t seed = mix64(g_shuffle_seed ^ (uint64_t)(uintptr_t)name);
    t_gridDim = cc.grid;
    t_blockDim = cc.block;
    g_block.kernel = name;
    g_block.failed = 0;
    order_fill(order, nb, mode, seed);
    g_dyn_shared.resize(cc.shared ? cc.shared : 1);
    for (k = 0; k < nb; k++) {
        unsigned long long i = order[k];
        t_blockIdx.x = (unsigned)(i % cc.grid.x);
        t_blockIdx.y = (unsigned)(i / cc.grid.x % cc.grid.y);
        t_blockIdx.z = (unsigned)(i / ((unsigned long long)cc.grid.x * cc.grid.y));
        memset(g_dyn_shared.data(), 0xff, g_dyn_shared.size()); /* shared memory starts undefined */
        run_block(cc.block, body, mode, seed + i);
    }
}

/* MV_EMU_RACECHECK: run the grid forward, then again from the same device
   memory in reverse (blocks, and threads between barriers), and name the
   kernel if any device byte differs: its result depends on the order in
   which threads run, a race (or a read of shared memory no thread of the
   block wrote). The forward result is kept. */
static std::vector<std::pair<uintptr_t, size_t>> device_blocks(void);

static void run_grid_twice(const launch_cfg &cc, const char *name, const std::function<void()> &body)
{
    std::vector<std::pair<uintptr_t, size_t>> blocks = device_blocks();
    std::vector<std::vector<unsigned char>> before, forward;
    for (auto &b : blocks) before.emplace_back((unsigned char *)b.first, (unsigned char *)b.first + b.second);
    run_grid(cc, name, body, ORDER_FORWARD);
    for (auto &b : blocks) forward.emplace_back((unsigned char *)b.first, (unsigned char *)b.first + b.second);
    for (size_t k = 0; k < blocks.size(); k++) memcpy((void *)blocks[k].first, before[k].data(), blocks[k].second);
    run_grid(cc, name, body, ORDER_REVERSE);
    for (size_t k = 0; k < blocks.size(); k++) {
        const unsigned char *now = (const unsigned char *)blocks[k].first;
        size_t n = blocks[k].second, first = n, count = 0;
        for (size_t i = 0; i < n; i++)
            if (now[i] != forward[k][i]) {
                if (first == n) first = i;
                count++;
            }
        if (count)
            set_sticky_error(cudaErrorLaunchFailure,
                             "%s: the result depends on the order threads run in (racecheck): %zu of %zu bytes of the "
                             "device block %p differ between forward and reverse order, the first at byte %zu",
                             name, count, n, (void *)blocks[k].first, first);
        memcpy((void *)blocks[k].first, forward[k].data(), n);
    }
}

void launch_grid(const launch_cfg &c, const char *name, std::function<void()> body)
{
    if (!config_ok(c, name)) return;
    if (g_verbose)
        say("launch %s grid (%u,%u,%u) block (%u,%u,%u) shared %zu", name, c.grid.x, c.grid.y, c.grid.z, c.block.x,
            c.block.y, c.block.z, c.shared);
    launch_cfg cc = c;
    enqueue(c.stream, [cc, name, body]() {
        if (g_racecheck) run_grid_twice(cc, name, body);
        else run_grid(cc, name, body, g_shuffle_seed ? ORDER_SHUFFLE : ORDER_FORWARD);
    });
}

/* >>emu-memory =============================================================== */

static size_t g_mem_limit;

static size_t mem_limit(void)
{
    if (!g_mem_limit) {
        double gb = env("MV_EMU_MEM_GB") ? atof(env("MV_EMU_MEM_GB")) : 12.0;
        g_mem_limit = (size_t)(gb * 1073741824.0);
    }
    return g_mem_limit;
}

static void emu_leaks(void);

static cudaError_t device_alloc(void **p, size_t n, const char *fn)
{
    static int leak_check;
    void *m = NULL;
    if (!leak_check) { /* registered after the map's construction, so it runs before its destruction */
        leak_check = 1;
        atexit(emu_leaks);
    }
    if (!p) return cudaErrorInvalidValue;
    *p = NULL;
    if (n == 0) return cudaSuccess;
    {
        std::lock_guard<std::mutex> hold(g_lock);
        if (n > mem_limit() - g_device_bytes) {
            say("%s(%zu bytes): out of device memory (%zu in use, MV_EMU_MEM_GB)", fn, n, g_device_bytes);
            return cudaErrorMemoryAllocation;
        }
    }
    if (posix_memalign(&m, 256, n) != 0) return cudaErrorMemoryAllocation;
    memset(m, 0xff, n); /* new device memory holds whatever was there: NaN here */
    std::lock_guard<std::mutex> hold(g_lock);
    g_ranges[(uintptr_t)m] = range{n, KIND_DEVICE, 1};
    g_device_bytes += n;
    *p = m;
    return cudaSuccess;
}

/* Take a device block out of the map; 0 if p does not start one. */
static int device_release(void *p, const char *fn)
{
    std::lock_guard<std::mutex> hold(g_lock);
    auto it = g_ranges.find((uintptr_t)p);
    if (it == g_ranges.end() || it->second.kind != KIND_DEVICE) {
        say("%s(%p): not the start of a device allocation (freed twice, or never allocated)", fn, p);
        return 0;
    }
    g_device_bytes -= it->second.size;
    g_ranges.erase(it);
    return 1;
}

/* Check a copy's pointers against its kind; name what is wrong. */
static cudaError_t copy_check(void *dst, const void *src, size_t n, cudaMemcpyKind k, const char *fn)
{
    int wd = where(dst, n), ws = where(src, n);
    const char *why = NULL;
    if (n == 0) return cudaSuccess;
    if (!dst || !src) why = "a NULL pointer";
    else if (wd < 0 || ws < 0) why = "runs past the end of a device allocation";
    else if (k == cudaMemcpyHostToDevice && (wd != 2 || ws == 2)) why = "HostToDevice, but the pointers are not host -> device";
    else if (k == cudaMemcpyDeviceToHost && (ws != 2 || wd == 2)) why = "DeviceToHost, but the pointers are not device -> host";
    else if (k == cudaMemcpyDeviceToDevice && (ws != 2 || wd != 2)) why = "DeviceToDevice, but a pointer is not device memory";
    else if (k == cudaMemcpyHostToHost && (ws == 2 || wd == 2)) why = "HostToHost, but a pointer is device memory";
    if (!why) return cudaSuccess;
    say("%s(dst %p, src %p, %zu bytes, kind %d): %s", fn, dst, (void *)src, n, (int)k, why);
    return cudaErrorInvalidValue;
}

static cudaMemcpyKind copy_kind(void *dst, const void *src, size_t n, cudaMemcpyKind k)
{
    if (k != cudaMemcpyDefault) return k;
    int d = where(dst, n) == 2, s = where(src, n) == 2;
    return d ? (s ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice) : (s ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
}

static cudaError_t memset_check(void *p, size_t n, const char *fn)
{
    int w = where(p, n);
    if (n == 0 || w == 2) return cudaSuccess;
    say("%s(%p, %zu bytes): %s", fn, p, n, w < 0 ? "runs past the end of a device allocation" : "not device memory");
    return cudaErrorInvalidValue;
}

static std::vector<std::pair<uintptr_t, size_t>> device_blocks(void)
{
    std::vector<std::pair<uintptr_t, size_t>> v;
    std::lock_guard<std::mutex> hold(g_lock);
    for (auto &r : g_ranges)
        if (r.second.kind == KIND_DEVICE) v.emplace_back(r.first, r.second.size);
    return v;
}

} /* namespace mv_emu */

using namespace mv_emu;

/* >>emu-api (memory) ========================================================== */

cudaError_t cudaMalloc(void **p, size_t n) { return device_alloc(p, n, "cudaMalloc"); }
cudaError_t cudaMallocAsync(void **p, size_t n, cudaStream_t) { return device_alloc(p, n, "cudaMallocAsync"); }

cudaError_t cudaFree(void *p)
{
    flush();
    if (!p) return cudaSuccess;
    if (!device_release(p, "cudaFree")) return cudaErrorInvalidValue;
    free(p);
    return cudaSuccess;
}

/* Stream-ordered: the block stays usable by the work queued before it. */
cudaError_t cudaFreeAsync(void *p, cudaStream_t s)
{
    if (!p) return cudaSuccess;
    if (where(p, 0) != 2) {
        say("cudaFreeAsync(%p): not device memory", p);
        return cudaErrorInvalidValue;
    }
    enqueue(s, [p]() {
        if (device_release(p, "cudaFreeAsync")) free(p);
        else set_sticky_error(cudaErrorInvalidValue, "cudaFreeAsync(%p): freed twice", p);
    });
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n)
{
    void *m = NULL;
    if (!p) return cudaErrorInvalidValue;
    if (posix_memalign(&m, 64, n ? n : 1) != 0) return cudaErrorMemoryAllocation;
    std::lock_guard<std::mutex> hold(g_lock);
    g_ranges[(uintptr_t)m] = range{n ? n : 1, KIND_PINNED, 1};
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p)
{
    flush();
    if (!p) return cudaSuccess;
    {
        std::lock_guard<std::mutex> hold(g_lock);
        auto it = g_ranges.find((uintptr_t)p);
        if (it == g_ranges.end() || it->second.kind != KIND_PINNED || !it->second.owned) {
            say("cudaFreeHost(%p): not from cudaMallocHost", p);
            return cudaErrorInvalidValue;
        }
        g_ranges.erase(it);
    }
    free(p);
    return cudaSuccess;
}

cudaError_t cudaHostRegister(void *p, size_t n, unsigned int)
{
    if (!p || !n) return cudaErrorInvalidValue;
    std::lock_guard<std::mutex> hold(g_lock);
    g_ranges[(uintptr_t)p] = range{n, KIND_PINNED, 0};
    return cudaSuccess;
}

cudaError_t cudaHostUnregister(void *p)
{
    flush();
    std::lock_guard<std::mutex> hold(g_lock);
    auto it = g_ranges.find((uintptr_t)p);
    if (it == g_ranges.end() || it->second.kind != KIND_PINNED || it->second.owned) return cudaErrorInvalidValue;
    g_ranges.erase(it);
    return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *a, const void *p)
{
    int w = where(p, 0);
    if (!a) return cudaErrorInvalidValue;
    memset(a, 0, sizeof(*a));
    a->type = w == 2 || w < 0 ? cudaMemoryTypeDevice : w == 1 ? cudaMemoryTypeHost : cudaMemoryTypeUnregistered;
    if (a->type == cudaMemoryTypeDevice) a->devicePointer = (void *)p;
    if (a->type == cudaMemoryTypeHost) a->hostPointer = a->devicePointer = (void *)p;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k)
{
    flush();
    k = copy_kind(dst, src, n, k);
    cudaError_t e = copy_check(dst, src, n, k, "cudaMemcpy");
    if (e != cudaSuccess) return e;
    if (n) memmove(dst, src, n);
    return take_sticky();
}

/* CUDA's rules for async copies: device -> pageable host waits for the
   stream; pageable host -> device is staged at the call (the host buffer
   may be reused at once); with pinned memory both are queued, so the host
   must synchronise before it reads, or writes the source again. */
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t s)
{
    k = copy_kind(dst, src, n, k);
    cudaError_t e = copy_check(dst, src, n, k, "cudaMemcpyAsync");
    if (e != cudaSuccess || n == 0) return e;
    if (k == cudaMemcpyDeviceToHost && where(dst, n) != 1) {
        flush();
        memcpy(dst, src, n);
        return cudaSuccess;
    }
    if (k == cudaMemcpyHostToDevice && where(src, n) != 1) {
        std::shared_ptr<std::vector<unsigned char>> staged(
            new std::vector<unsigned char>((const unsigned char *)src, (const unsigned char *)src + n));
        enqueue(s, [dst, staged]() { memcpy(dst, staged->data(), staged->size()); });
        return cudaSuccess;
    }
    if (k == cudaMemcpyHostToHost) {
        flush();
        memmove(dst, src, n);
        return cudaSuccess;
    }
    enqueue(s, [dst, src, n]() { memmove(dst, src, n); });
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
    flush();
    cudaError_t e = memset_check(p, n, "cudaMemset");
    if (e != cudaSuccess) return e;
    if (n) memset(p, v, n);
    return take_sticky();
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s)
{
    cudaError_t e = memset_check(p, n, "cudaMemsetAsync");
    if (e != cudaSuccess || n == 0) return e;
    enqueue(s, [p, v, n]() { memset(p, v, n); });
    return cudaSuccess;
}

/* >>emu-api (devices, streams, events, errors) ============================================ */

static int emu_devices(void)
{
    const char *d = env("MV_EMU_DEVICES");
    return d ? atoi(d) : 1;
}

cudaError_t cudaGetDeviceCount(int *n)
{
    if (!n) return cudaErrorInvalidValue;
    *n = emu_devices();
    return *n ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaGetDevice(int *d)
{
    if (!d) return cudaErrorInvalidValue;
    *d = 0;
    return emu_devices() ? cudaSuccess : cudaErrorNoDevice;
}

/* An H100's numbers, where the kernels' launch shapes depend on them
   (medvol_cuda.h sizes grid-stride grids from the SM count). */
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d)
{
    if (!p || d != 0 || !emu_devices()) return cudaErrorInvalidDevice;
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof p->name, "mv_emu (the CUDA emulator of tests/cuda_emu, on the CPU)");
    p->totalGlobalMem = mem_limit();
    p->sharedMemPerBlock = 48 * 1024;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 132;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int d)
{
    if (!v || d != 0) return cudaErrorInvalidValue;
    switch (a) {
    case cudaDevAttrMultiProcessorCount: *v = 132; return cudaSuccess;
    }
    return cudaErrorInvalidValue;
}

cudaError_t cudaDeviceSynchronize(void)
{
    flush();
    return take_sticky();
}

cudaError_t cudaDeviceReset(void)
{
    flush();
    std::lock_guard<std::mutex> hold(g_lock);
    for (auto it = g_ranges.begin(); it != g_ranges.end();) {
        if (it->second.kind == KIND_DEVICE) {
            free((void *)it->first);
            g_device_bytes -= it->second.size;
            it = g_ranges.erase(it);
        } else {
            ++it;
        }
    }
    g_sticky = g_last = cudaSuccess;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    static int next_id = 1;
    if (!s) return cudaErrorInvalidValue;
    *s = new CUstream_st{next_id++};
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    if (!s) return cudaErrorInvalidResourceHandle;
    flush(); /* its work still completes */
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t)
{
    flush();
    return take_sticky();
}

cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    if (!e) return cudaErrorInvalidValue;
    *e = new CUevent_st{0.0, 0, 0};
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    if (!e) return cudaErrorInvalidResourceHandle;
    flush();
    delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    if (!e) return cudaErrorInvalidResourceHandle;
    e->pending = 1;
    enqueue(s, [e]() {
        e->t = now_s();
        e->pending = 0;
        e->recorded = 1;
    });
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    if (!e) return cudaErrorInvalidResourceHandle;
    flush();
    return take_sticky();
}

/* As CUDA: an event the queue has not reached yet is cudaErrorNotReady. */
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    if (!ms || !a || !b) return cudaErrorInvalidValue;
    if (a->pending || b->pending) return cudaErrorNotReady;
    if (!a->recorded || !b->recorded) return cudaErrorInvalidResourceHandle;
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = g_last != cudaSuccess ? g_last : g_sticky;
    g_last = cudaSuccess;
    g_sticky = cudaSuccess;
    return e;
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure (mv_emu: see the message above)";
    default: return cudaGetErrorName(e);
    }
}

/* Device memory still allocated when the program ends: a leak, as
   compute-sanitizer's --leak-check full reports it; the exit status is 3
   (its --error-exitcode in scripts/gpu_check.sh). cudaDeviceReset frees
   everything first, as on a GPU. */
namespace mv_emu {
static void emu_leaks(void)
{
    size_t n = 0, bytes = 0;
    flush();
    for (auto &r : g_ranges)
        if (r.second.kind == KIND_DEVICE) n++, bytes += r.second.size;
    if (!n) return;
    say("%zu device allocation%s (%zu bytes) never freed: a leak", n, n == 1 ? "" : "s", bytes);
    fflush(stdout);
    _exit(3);
}
} /* namespace mv_emu */

/* Read the environment once, before main. */
__attribute__((constructor)) static void emu_init(void)
{
    const char *s = getenv("MV_EMU_SHUFFLE");
    g_shuffle_seed = s ? strtoull(s, NULL, 0) : 0;
    s = getenv("MV_EMU_RACECHECK");
    g_racecheck = s && atoi(s) > 0;
    s = getenv("MV_EMU_VERBOSE");
    g_verbose = s && atoi(s) > 0;
}
