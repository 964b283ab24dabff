/* test_emu.cu - the CUDA emulator's own tests: that it runs CUDA code as a
   GPU would, and that it fails what a GPU (or compute-sanitizer) would fail.

   Written in CUDA, launches and all: `make test-cuda-emu` passes it through
   tests/cuda_emu/rewrite.py like medvol_cuda.h. Each check states the CUDA
   rule it stands for; the expected values come from the definitions (sums of
   integers, the copy that was made), not from the emulator. */
#include <cuda_runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (cond) {                                                      \
            t_passed++;                                                  \
        } else {                                                         \
            t_failed++;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
        }                                                                \
    } while (0)

/* ---- kernels ------------------------------------------------------------------ */

/* A shared-memory tree sum per block, with its barriers. */
static __global__ void k_block_sum(const int *in, int n, long long *out)
{
    __shared__ long long sh[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    sh[threadIdx.x] = i < n ? in[i] : 0;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = sh[0];
}

/* The same without the barriers: a race a GPU may or may not show. */
static __global__ void k_block_sum_racy(const int *in, int n, long long *out)
{
    __shared__ long long sh[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    sh[threadIdx.x] = i < n ? in[i] : 0;
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1)
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    if (threadIdx.x == 0) out[blockIdx.x] = sh[0];
}

/* A warp sum by shuffles (lane 0 holds the total). */
static __global__ void k_warp_sum(const double *in, double *out)
{
    double v = in[blockIdx.x * 32 + threadIdx.x];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) out[blockIdx.x] = v;
}

/* Lanes stage values in shared memory and lane 0 adds them after a
   __syncwarp (racy: without it; lane 0 runs first and reads zeros) */
static __global__ void k_warp_stage(const int *in, long long *out, int racy)
{
    __shared__ int sh[64];
    const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
    sh[threadIdx.x] = 0;
    __syncthreads();
    sh[threadIdx.x] = in[threadIdx.x];
    if (!racy) __syncwarp();
    if (lane == 0) {
        long long s = 0;
        for (int l = 0; l < 32; l++) s += sh[w * 32 + l];
        out[w] = s;
    }
}

/* Threads past n leave before the barrier: a divergent __syncthreads. */
static __global__ void k_divergent(int *a, int n)
{
    if ((int)threadIdx.x >= n) return;
    a[threadIdx.x] = 1;
    __syncthreads();
    a[threadIdx.x] += a[(threadIdx.x + 1) % n];
}

/* Dynamic shared memory: reverse a block's values. */
static __global__ void k_reverse(float *a)
{
    extern __shared__ float dyn[];
    dyn[threadIdx.x] = a[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    a[blockIdx.x * blockDim.x + threadIdx.x] = dyn[blockDim.x - 1 - threadIdx.x];
}

/* 3D indices: each thread writes its linear id. */
static __global__ void k_ids(int *a, int nx, int ny)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, z = blockIdx.z;
    if (x < nx && y < ny) a[(z * ny + y) * nx + x] = (z * ny + y) * nx + x;
}

static __global__ void k_fill(float *a, int n, float v)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) a[i] = v;
}

static __global__ void k_count(const float *a, int n, unsigned long long *count)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && a[i] == a[i]) atomicAdd(count, 1ull); /* non-NaN */
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_reductions(void)
{
    enum { N = 1000, B = 256, G = (N + B - 1) / B };
    int h[N], *d;
    long long sums[G], *ds, want = 0, got = 0;
    for (int i = 0; i < N; i++) want += h[i] = (i * 7919) % 1001 - 500;
    cudaMalloc(&d, sizeof h);
    cudaMalloc(&ds, sizeof sums);
    cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
    k_block_sum<<<G, B>>>(d, N, ds);
    CHECK(cudaGetLastError() == cudaSuccess, "launch");
    cudaMemcpy(sums, ds, sizeof sums, cudaMemcpyDeviceToHost);
    for (int g = 0; g < G; g++) got += sums[g];
    CHECK(got == want, "block tree sum %lld, want %lld", got, want);

    /* without barriers the first threads read partial sums that are not
       there yet: the emulator runs each thread to the end before the next */
    k_block_sum_racy<<<G, B>>>(d, N, ds);
    cudaMemcpy(sums, ds, sizeof sums, cudaMemcpyDeviceToHost);
    got = 0;
    for (int g = 0; g < G; g++) got += sums[g];
    CHECK(got != want, "a reduction without __syncthreads gave the right sum (%lld): the race went unseen", got);

    double hv[3 * 32], *dv, *dout, out[3];
    for (int i = 0; i < 3 * 32; i++) hv[i] = (double)(i * i % 97) - 40.25;
    cudaMalloc(&dv, sizeof hv);
    cudaMalloc(&dout, sizeof out);
    cudaMemcpy(dv, hv, sizeof hv, cudaMemcpyHostToDevice);
    { /* __syncwarp orders a warp's shared-memory stores before lane 0's reads */
        int hs[64], *dsi;
        long long ws[2], *dws, want0 = 0, want1 = 0;
        for (int i = 0; i < 64; i++) (i < 32 ? want0 : want1) += hs[i] = 3 * i + 1;
        cudaMalloc(&dsi, sizeof hs);
        cudaMalloc(&dws, sizeof ws);
        cudaMemcpy(dsi, hs, sizeof hs, cudaMemcpyHostToDevice);
        for (int racy = 0; racy < 2; racy++) {
            k_warp_stage<<<1, 64>>>(dsi, dws, racy);
            cudaMemcpy(ws, dws, sizeof ws, cudaMemcpyDeviceToHost);
            if (!racy) CHECK(ws[0] == want0 && ws[1] == want1, "__syncwarp staging %lld %lld", ws[0], ws[1]);
            else CHECK(ws[0] != want0, "staging without __syncwarp gave the right sum: the race went unseen");
        }
        cudaFree(dsi);
        cudaFree(dws);
    }
    k_warp_sum<<<3, 32>>>(dv, dout);
    cudaMemcpy(out, dout, sizeof out, cudaMemcpyDeviceToHost);
    for (int w = 0; w < 3; w++) {
        double s = 0; /* shfl_down's tree: exact here (small integers + quarters) */
        for (int l = 0; l < 32; l++) s += hv[w * 32 + l];
        CHECK(out[w] == s, "warp %d shuffle sum %g, want %g", w, out[w], s);
    }
    cudaFree(d);
    cudaFree(ds);
    cudaFree(dv);
    cudaFree(dout);
}

static void test_launch_rules(void)
{
    int *d, ids[5 * 7 * 3];
    cudaMalloc(&d, sizeof ids);
    k_ids<<<dim3(2, 3, 3), dim3(4, 3)>>>(d, 5, 7);
    cudaMemcpy(ids, d, sizeof ids, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int i = 0; i < 5 * 7 * 3; i++) bad += ids[i] != i;
    CHECK(bad == 0, "3D grid: %d of %d ids wrong", bad, 5 * 7 * 3);

    k_ids<<<1, 2048>>>(d, 5, 7);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "a 2048-thread block must fail to launch");
    CHECK(cudaGetLastError() == cudaSuccess, "cudaGetLastError clears the error");
    k_ids<<<dim3(1, 70000), 32>>>(d, 5, 7);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "grid y 70000 must fail to launch");
    k_reverse<<<1, 32, 64 * 1024>>>((float *)d);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue, "64 KiB of dynamic shared memory must fail to launch");

    k_divergent<<<1, 64>>>(d, 40);
    CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure, "a divergent __syncthreads must fail the launch");
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "the failure is reported once");
    k_divergent<<<1, 64>>>(d, 64);
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "the same kernel with every thread at the barrier");

    float f[3 * 48], *df;
    for (int i = 0; i < 3 * 48; i++) f[i] = (float)i;
    cudaMalloc(&df, sizeof f);
    cudaMemcpy(df, f, sizeof f, cudaMemcpyHostToDevice);
    k_reverse<<<3, 48, 48 * sizeof(float)>>>(df);
    cudaMemcpy(f, df, sizeof f, cudaMemcpyDeviceToHost);
    bad = 0;
    for (int b = 0; b < 3; b++)
        for (int t = 0; t < 48; t++) bad += f[b * 48 + t] != (float)(b * 48 + 47 - t);
    CHECK(bad == 0, "dynamic shared memory: %d values wrong", bad);
    cudaFree(d);
    cudaFree(df);
}

/* Stream order: async work runs when the host synchronises. */
static void test_stream_order(void)
{
    enum { N = 1000 };
    cudaStream_t s;
    float *dev, *pinned, pageable[N];
    unsigned long long *dcount, count = 0;
    cudaStreamCreate(&s);
    cudaMalloc(&dev, N * sizeof(float));
    cudaMalloc(&dcount, sizeof count);
    cudaMallocHost(&pinned, N * sizeof(float));

    /* new device memory is not zero */
    cudaMemsetAsync(dcount, 0, sizeof count, s);
    k_count<<<(N + 255) / 256, 256, 0, s>>>(dev, N, dcount);
    cudaMemcpy(&count, dcount, sizeof count, cudaMemcpyDeviceToHost);
    CHECK(count == 0, "fresh device memory should read as NaN, %llu values were numbers", count);

    for (int i = 0; i < N; i++) pinned[i] = -1.0f;
    k_fill<<<4, 128, 0, s>>>(dev, N, 3.0f);
    cudaMemcpyAsync(pinned, dev, N * sizeof(float), cudaMemcpyDeviceToHost, s);
    CHECK(pinned[0] == -1.0f, "a pinned async copy must not have landed before the host synchronises");
    cudaStreamSynchronize(s);
    CHECK(pinned[0] == 3.0f && pinned[N - 1] == 3.0f, "after cudaStreamSynchronize the copy has landed");

    /* device -> pageable host waits: the value is there at return */
    k_fill<<<4, 128, 0, s>>>(dev, N, 5.0f);
    cudaMemcpyAsync(pageable, dev, N * sizeof(float), cudaMemcpyDeviceToHost, s);
    CHECK(pageable[N - 1] == 5.0f, "device -> pageable cudaMemcpyAsync returns when the copy is done");

    /* pageable -> device is staged at the call: changing the source after it does not matter */
    for (int i = 0; i < N; i++) pageable[i] = 7.0f;
    cudaMemcpyAsync(dev, pageable, N * sizeof(float), cudaMemcpyHostToDevice, s);
    pageable[0] = 9.0f;
    cudaMemcpy(pinned, dev, N * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(pinned[0] == 7.0f, "pageable -> device takes the source at the call");

    /* pinned -> device reads the source when it runs */
    for (int i = 0; i < N; i++) pinned[i] = 11.0f;
    cudaMemcpyAsync(dev, pinned, N * sizeof(float), cudaMemcpyHostToDevice, s);
    pinned[0] = 12.0f;
    cudaMemcpy(pageable, dev, N * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(pageable[0] == 12.0f, "pinned -> device reads the buffer when the copy runs");

    /* events: not ready before the queue reaches them */
    cudaEvent_t e0, e1;
    float ms = 0;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaEventRecord(e0, s);
    k_fill<<<4, 128, 0, s>>>(dev, N, 1.0f);
    cudaEventRecord(e1, s);
    CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaErrorNotReady, "events not reached yet: cudaErrorNotReady");
    cudaEventSynchronize(e1);
    CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms >= 0, "elapsed time after the wait");
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);

    /* stream-ordered free: the queued kernel still has its memory */
    float *tmp;
    cudaMallocAsync(&tmp, 64 * sizeof(float), s);
    k_fill<<<1, 64, 0, s>>>(tmp, 64, 2.0f);
    cudaMemcpyAsync(dev, tmp, 64 * sizeof(float), cudaMemcpyDeviceToDevice, s);
    cudaFreeAsync(tmp, s);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess, "cudaFreeAsync after the work that uses the block");
    cudaMemcpy(pageable, dev, sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(pageable[0] == 2.0f, "the kernel before cudaFreeAsync ran on live memory");

    cudaFreeHost(pinned);
    cudaFree(dev);
    cudaFree(dcount);
    cudaStreamDestroy(s);
}

/* Copies checked against the allocations and the kind. */
static void test_memory_checks(void)
{
    float *d, h[16];
    cudaPointerAttributes at;
    cudaMalloc(&d, 16 * sizeof(float));
    fprintf(stderr, "(the next four mv_emu lines are expected)\n");
    CHECK(cudaMemcpy(d, h, 17 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
          "a copy past the end of a device block must fail");
    CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
          "HostToDevice with the pointers swapped must fail");
    CHECK(cudaMemsetAsync(h, 0, sizeof h, 0) == cudaErrorInvalidValue, "a memset of host memory must fail");
    CHECK(cudaFree(h) == cudaErrorInvalidValue, "cudaFree of host memory must fail");
    CHECK(cudaPointerGetAttributes(&at, d) == cudaSuccess && at.type == cudaMemoryTypeDevice, "device pointer");
    CHECK(cudaPointerGetAttributes(&at, h) == cudaSuccess && at.type == cudaMemoryTypeUnregistered, "pageable");
    cudaHostRegister(h, sizeof h, cudaHostRegisterDefault);
    CHECK(cudaPointerGetAttributes(&at, h + 3) == cudaSuccess && at.type == cudaMemoryTypeHost, "registered");
    cudaHostUnregister(h);
    CHECK(cudaFree(d) == cudaSuccess, "free");
}

int main(void)
{
    test_reductions();
    test_launch_rules();
    test_stream_order();
    test_memory_checks();
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
