// WKV of RWKV-4 (specs/rwkv-and-attention.md part A), the "cuda" backend of tessera.ops.rwkv.
//
// Same arguments, layouts and scratch formats as the tile kernels of ../wkv4.py, so that the
// wrapper only swaps the launch. Every (b, c) channel is an independent recurrence over t: one
// thread takes one channel of one batch row and walks the T steps in order, holding the state
// in the stabilised form of A.2 (alpha = aa e^pp, beta = bb e^pp, pp the running maximum
// exponent, so every exp argument is <= 0). A step's loads and stores are contiguous over the
// threads of a block. Math is fp32; inputs are upcast on load, outputs rounded once (RNE).
//
// Launch: grid (B, ceil(C / BLOCK_C)) (the batch on x, which takes 2**31 - 1 rows where y stops
// at 65535), block BLOCK_C threads; T >= 1.
// Macros: IO_T (type of k, v, y, gy, gk, gv), U_T (type of u: float or IO_T), BLOCK_C,
// STATE (forward: 1 reads (aa, bb, pp) before the first step and overwrites them after the
// last; 0 starts empty).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#ifndef IO_T
#error "wkv4.cu: define IO_T, the type of k, v, y (float, __nv_bfloat16 or __half)"
#endif
#ifndef U_T
#error "wkv4.cu: define U_T, the type of u (float or IO_T)"
#endif
#ifndef BLOCK_C
#error "wkv4.cu: define BLOCK_C, the channels (threads) of a block"
#endif
#ifndef STATE
#error "wkv4.cu: define STATE (1: the forward reads and writes aa, bb, pp; 0: starts empty)"
#endif

// The exponent of an empty state: never -inf, since -inf - -inf is NaN.
#define WKV4_EMPTY_PP (-1e38f)

// Steps whose inputs are loaded before the first of them is used: the recurrence is a chain
// of dependent exps, so loads issued a few steps early keep global latency off it.
#define WKV4_AHEAD 4

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}
template <> __device__ __forceinline__ __half from_float<__half>(float x)
{
    return __float2half_rn(x);
}

// (e1, e2) of A.2's first half: y = (e1 aa + e2 v) / (e1 bb + e2), with uk = u + k.
__device__ __forceinline__ void output_weights(float pp, float uk, float& e1, float& e2)
{
    const float o = fmaxf(pp, uk);
    e1 = expf(pp - o);
    e2 = expf(uk - o);
}

// The state (aa, bb, pp) after a step with key k and value v (A.2's second half).
__device__ __forceinline__ void advance(float& aa, float& bb, float& pp, float w, float k,
                                        float v)
{
    const float o = fmaxf(w + pp, k);
    const float e1 = expf(w + pp - o);
    const float e2 = expf(k - o);
    aa = e1 * aa + e2 * v;
    bb = e1 * bb + e2;
    pp = o;
}

// k, v of the WKV4_AHEAD steps after the group in use, walking t upwards: take(t0) hands out
// the group t0 .. t0 + WKV4_AHEAD - 1 and issues the loads of the next group.
struct ForwardLookahead {
    const IO_T* k_c;
    const IO_T* v_c;
    long long stride_t;
    int T;
    IO_T k_next[WKV4_AHEAD], v_next[WKV4_AHEAD];

    __device__ ForwardLookahead(const IO_T* k_c, const IO_T* v_c, long long stride_t, int T)
        : k_c(k_c), v_c(v_c), stride_t(stride_t), T(T)
    {
#pragma unroll
        for (int s = 0; s < WKV4_AHEAD; ++s) {
            if (s < T) {
                k_next[s] = k_c[s * stride_t];
                v_next[s] = v_c[s * stride_t];
            }
        }
    }

    __device__ __forceinline__ void take(int t0, IO_T (&k_now)[WKV4_AHEAD],
                                         IO_T (&v_now)[WKV4_AHEAD])
    {
#pragma unroll
        for (int s = 0; s < WKV4_AHEAD; ++s) {
            k_now[s] = k_next[s];
            v_now[s] = v_next[s];
            const int t = t0 + WKV4_AHEAD + s;
            if (t < T) {
                k_next[s] = k_c[t * stride_t];
                v_next[s] = v_c[t * stride_t];
            }
        }
    }
};

// y (B, T, C) of k, v (element (b, t, c) at b * stride_b + t * stride_t + c; y strided alike),
// w (C,) fp32 and u (C,). With STATE, aa, bb, pp ((B, C) fp32 each) hold the state before the
// first step and receive the state after the last.
extern "C" __global__ void __launch_bounds__(BLOCK_C)
wkv4_forward(const float* __restrict__ w, const U_T* __restrict__ u, const IO_T* __restrict__ k,
             const IO_T* __restrict__ v, IO_T* __restrict__ y, float* __restrict__ aa,
             float* __restrict__ bb, float* __restrict__ pp, int T, int C, long long stride_b,
             long long stride_t)
{
    const long long batch = blockIdx.x;
    const int c = blockIdx.y * BLOCK_C + threadIdx.x;
    if (c >= C)
        return;
    const float w_c = w[c];
    const float u_c = to_float(u[c]);
#if STATE
    const long long state_at = batch * C + c;
    float aa_c = aa[state_at], bb_c = bb[state_at], pp_c = pp[state_at];
#else
    float aa_c = 0.0f, bb_c = 0.0f, pp_c = WKV4_EMPTY_PP;
#endif
    const IO_T* k_c = k + batch * stride_b + c;
    const IO_T* v_c = v + batch * stride_b + c;
    IO_T* y_c = y + batch * stride_b + c;

    // k, v of steps t0 .. t0 + WKV4_AHEAD - 1, loaded one group ahead.
    ForwardLookahead ahead(k_c, v_c, stride_t, T);
    for (int t0 = 0; t0 < T; t0 += WKV4_AHEAD) {
        IO_T k_now[WKV4_AHEAD], v_now[WKV4_AHEAD];
        ahead.take(t0, k_now, v_now);
#pragma unroll
        for (int s = 0; s < WKV4_AHEAD; ++s) {
            const int t = t0 + s;
            if (t < T) {
                const float k_t = to_float(k_now[s]), v_t = to_float(v_now[s]);
                float e1, e2;
                output_weights(pp_c, u_c + k_t, e1, e2);
                y_c[t * stride_t] = from_float<IO_T>((e1 * aa_c + e2 * v_t) / (e1 * bb_c + e2));
                advance(aa_c, bb_c, pp_c, w_c, k_t, v_t);
            }
        }
    }
#if STATE
    aa[state_at] = aa_c;
    bb[state_at] = bb_c;
    pp[state_at] = pp_c;
#endif
}

// gk, gv (strided as k) and the per-batch-row gw, gu (B, C) fp32 (gw = dL/dw * w) of the
// empty-state recurrence, given gy (strided as k). saved: (3, B, T, C) fp32 contiguous
// scratch: the forward is replayed saving (aa, bb, pp) before each step, then walked back
// with the adjoint of the stabilised step (Ga = dL/dalpha e^pp, Gb = dL/dbeta e^pp, scaled
// like the state so they stay finite; see ../wkv4.py). Each thread reads back only what it
// wrote, so no synchronisation is needed.
extern "C" __global__ void __launch_bounds__(BLOCK_C)
wkv4_backward(const float* __restrict__ w, const U_T* __restrict__ u,
              const IO_T* __restrict__ k, const IO_T* __restrict__ v,
              const IO_T* __restrict__ gy, IO_T* __restrict__ gk, IO_T* __restrict__ gv,
              float* __restrict__ gw_rows, float* __restrict__ gu_rows,
              float* __restrict__ saved, int T, int C, long long stride_b, long long stride_t)
{
    const long long batch = blockIdx.x;
    const int c = blockIdx.y * BLOCK_C + threadIdx.x;
    if (c >= C)
        return;
    const float w_c = w[c];
    const float u_c = to_float(u[c]);
    const long long row = batch * stride_b + c;
    const IO_T* k_c = k + row;
    const IO_T* v_c = v + row;
    // Component stride of saved, and this channel's slot of step 0 in component 0.
    const long long component = (long long)gridDim.x * T * C;
    float* saved_aa = saved + batch * T * C + c;
    float* saved_bb = saved_aa + component;
    float* saved_pp = saved_aa + 2 * component;

    // Replay, saving the state before each step.
    float aa_c = 0.0f, bb_c = 0.0f, pp_c = WKV4_EMPTY_PP;
    ForwardLookahead ahead(k_c, v_c, stride_t, T);
    for (int t0 = 0; t0 < T; t0 += WKV4_AHEAD) {
        IO_T k_now[WKV4_AHEAD], v_now[WKV4_AHEAD];
        ahead.take(t0, k_now, v_now);
#pragma unroll
        for (int s = 0; s < WKV4_AHEAD; ++s) {
            const int t = t0 + s;
            if (t < T) {
                const long long at = (long long)t * C;
                saved_aa[at] = aa_c;
                saved_bb[at] = bb_c;
                saved_pp[at] = pp_c;
                advance(aa_c, bb_c, pp_c, w_c, to_float(k_now[s]), to_float(v_now[s]));
            }
        }
    }

    // Walk back from t = T - 1, loading the inputs of the next WKV4_AHEAD steps (downwards)
    // one group ahead. pp_after is the exponent of the state after step t.
    const IO_T* gy_c = gy + row;
    IO_T* gk_c = gk + row;
    IO_T* gv_c = gv + row;
    float ga = 0.0f, gb = 0.0f, gw = 0.0f, gu = 0.0f;
    float pp_after = pp_c;
    IO_T k_prev[WKV4_AHEAD], v_prev[WKV4_AHEAD], gy_prev[WKV4_AHEAD];
    float aa_prev[WKV4_AHEAD], bb_prev[WKV4_AHEAD], pp_prev[WKV4_AHEAD];
#pragma unroll
    for (int s = 0; s < WKV4_AHEAD; ++s) {
        const int t = T - 1 - s;
        if (t >= 0) {
            const long long at = (long long)t * C;
            k_prev[s] = k_c[t * stride_t];
            v_prev[s] = v_c[t * stride_t];
            gy_prev[s] = gy_c[t * stride_t];
            aa_prev[s] = saved_aa[at];
            bb_prev[s] = saved_bb[at];
            pp_prev[s] = saved_pp[at];
        }
    }
    for (int t0 = T - 1; t0 >= 0; t0 -= WKV4_AHEAD) {
        IO_T k_now[WKV4_AHEAD], v_now[WKV4_AHEAD], gy_now[WKV4_AHEAD];
        float aa_now[WKV4_AHEAD], bb_now[WKV4_AHEAD], pp_now[WKV4_AHEAD];
#pragma unroll
        for (int s = 0; s < WKV4_AHEAD; ++s) {
            k_now[s] = k_prev[s];
            v_now[s] = v_prev[s];
            gy_now[s] = gy_prev[s];
            aa_now[s] = aa_prev[s];
            bb_now[s] = bb_prev[s];
            pp_now[s] = pp_prev[s];
            const int t = t0 - WKV4_AHEAD - s;
            if (t >= 0) {
                const long long at = (long long)t * C;
                k_prev[s] = k_c[t * stride_t];
                v_prev[s] = v_c[t * stride_t];
                gy_prev[s] = gy_c[t * stride_t];
                aa_prev[s] = saved_aa[at];
                bb_prev[s] = saved_bb[at];
                pp_prev[s] = saved_pp[at];
            }
        }
#pragma unroll
        for (int s = 0; s < WKV4_AHEAD; ++s) {
            const int t = t0 - s;
            if (t >= 0) {
                const float k_t = to_float(k_now[s]), v_t = to_float(v_now[s]);
                const float gy_t = to_float(gy_now[s]);
                const float aa_t = aa_now[s], bb_t = bb_now[s], pp_t = pp_now[s];
                float e1, e2;
                output_weights(pp_t, u_c + k_t, e1, e2);
                const float inv = 1.0f / (e1 * bb_t + e2);
                const float y_t = (e1 * aa_t + e2 * v_t) * inv;
                const float q2 = gy_t * e2 * inv;
                // e^(k - pp_after) <= 1: the weight of this step's key in the state after it.
                const float decay_k = expf(k_t - pp_after);
                gv_c[t * stride_t] = from_float<IO_T>(q2 + decay_k * ga);
                gk_c[t * stride_t] =
                    from_float<IO_T>(q2 * (v_t - y_t) + decay_k * (ga * v_t + gb));
                gu += q2 * (v_t - y_t);
                // e^(w + pp_t - pp_after) <= 1: the decay of the older state through the step.
                const float r = expf(w_c + pp_t - pp_after);
                gw += r * (ga * aa_t + gb * bb_t);
                const float q1 = gy_t * e1 * inv;
                ga = q1 + r * ga;
                gb = r * gb - q1 * y_t;
                pp_after = pp_t;
            }
        }
    }
    const long long state_at = batch * C + c;
    gw_rows[state_at] = gw * w_c;
    gu_rows[state_at] = gu;
}
