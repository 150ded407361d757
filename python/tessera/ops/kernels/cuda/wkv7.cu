// WKV7 of RWKV-7 (specs/rwkv-and-attention.md part B), the "cuda" backend of tessera.ops.rwkv.
//
// Same arguments, layouts and saved-tensor formats as the tile kernels of ../wkv7.py, so that
// the wrapper only swaps the launch. Per head (b, h) the fp32 state S is N x N, S[i][j] with i
// the value/output index and j the key/receptance index; a step is
//
//     sa = S a;   S = S diag(d) + sa b^T + v k^T;   y = S r
//
// Inputs (B, T, H, N) contiguous: element (b, t, h, n) at ((b * T + t) * H + h) * N + n.
// One block per head (grid B * H, block N * L threads). A "line" (a row of S in the forward,
// a row and a column in the backward) is shared by L consecutive threads (one warp's lanes):
// part p of a line holds the elements (q * L + p) * 4 + e, q < N / (4 L), e < 4, so a part
// reads float4 groups of the staged vectors, the L parts of a line read adjacent groups (no
// bank conflicts), and line sums finish with __shfl_xor_sync over the L lanes.
//
// A step's input vectors are loaded from global memory into registers ahead of use (the
// forward AHEAD steps, the backward one step, issued before the current step's math, to hide
// the latency), then converted to fp32 (the decay d formed
// once per j) and staged in double-buffered shared memory, so the forward needs one
// __syncthreads per step.
//
// Macros: IO_T (type of r, k, v, a, b, y and the gradients), W_T (type of w: float or IO_T),
// N (16, 32, 64, 128), L (1, 2, 4), DECAY (0 raw d = exp(-exp(w)), 1 clampw
// d = exp(-e^{-1/2} sigmoid(w)), 2 log d = exp(w)), CHUNK (steps between checkpoints), and
// the flags of each entry: wkv7_forward is compiled when HAS_S0, HAS_ST and SAVE are defined,
// wkv7_backward when HAS_DST and HAS_DS0 are (one program may hold both).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#ifndef IO_T
#error "wkv7.cu: define IO_T, the type of r, k, v, a, b, y (float, __nv_bfloat16 or __half)"
#endif
#ifndef W_T
#error "wkv7.cu: define W_T, the type of w and dw (float or IO_T)"
#endif
#ifndef N
#error "wkv7.cu: define N, the head size (16, 32, 64 or 128)"
#endif
#ifndef L
#error "wkv7.cu: define L, the threads sharing a line of the state (1, 2 or 4)"
#endif
#ifndef DECAY
#error "wkv7.cu: define DECAY (0 raw, 1 clampw, 2 log)"
#endif
#ifndef CHUNK
#error "wkv7.cu: define CHUNK, the steps between state checkpoints (16)"
#endif
#if N != 16 && N != 32 && N != 64 && N != 128
#error "wkv7.cu: N must be 16, 32, 64 or 128"
#endif
#if L != 1 && L != 2 && L != 4
#error "wkv7.cu: L must be 1, 2 or 4"
#endif
#if DECAY != 0 && DECAY != 1 && DECAY != 2
#error "wkv7.cu: DECAY must be 0 (raw), 1 (clampw) or 2 (log)"
#endif

#if defined(HAS_S0) && defined(HAS_ST) && defined(SAVE)
#define WKV7_FORWARD 1
#else
#define WKV7_FORWARD 0
#endif
#if defined(HAS_DST) && defined(HAS_DS0)
#define WKV7_BACKWARD 1
#else
#define WKV7_BACKWARD 0
#endif
#if (defined(HAS_S0) || defined(HAS_ST) || defined(SAVE)) && !WKV7_FORWARD
#error "wkv7.cu: wkv7_forward needs all of HAS_S0, HAS_ST and SAVE (0 or 1 each)"
#endif
#if (defined(HAS_DST) || defined(HAS_DS0)) && !WKV7_BACKWARD
#error "wkv7.cu: wkv7_backward needs both HAS_DST and HAS_DS0 (0 or 1 each)"
#endif
#if !WKV7_FORWARD && !WKV7_BACKWARD
#error "wkv7.cu: define HAS_S0, HAS_ST, SAVE (wkv7_forward) and/or HAS_DST, HAS_DS0 (backward)"
#endif

constexpr int THREADS = N * L;   // a block: one head
constexpr int PART = N / L;      // elements of a line held by one thread
constexpr int QUADS = PART / 4;  // float4 groups of a part

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

// The first index of float4 group q of a line's part `part`.
__device__ __forceinline__ int quad_start(int q, int part) { return (q * L + part) * 4; }

__device__ __forceinline__ float4 load4(const float* p)
{
    return *reinterpret_cast<const float4*>(p);
}

// The sum of x over the L lanes of a line (every lane gets it). The lanes of a line are
// consecutive and L divides 32; with L = 1 nothing runs, so a 16-thread block (N = 16) is safe.
__device__ __forceinline__ float line_sum(float x)
{
#pragma unroll
    for (int lane_bit = 1; lane_bit < L; lane_bit <<= 1)
        x += __shfl_xor_sync(0xffffffffu, x, lane_bit);
    return x;
}

// Four partial sums (one per float4 component, for ILP) into one.
__device__ __forceinline__ float total(const float (&acc)[4])
{
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// The decay d of the passed w under convention DECAY, and d * (d log d / dw), the factor that
// turns dL/dd into dL/dw (B.3).
__device__ __forceinline__ float decay_of(float w, float& dw_factor)
{
#if DECAY == 0
    const float log_d = -expf(w);
    const float d = expf(log_d);
    dw_factor = d * log_d;
#elif DECAY == 1
    constexpr float CLAMPW_SCALE = 0.6065306597126334f;  // e^{-1/2}
    const float sig = 1.0f / (1.0f + expf(-w));
    const float log_d = -CLAMPW_SCALE * sig;
    const float d = expf(log_d);
    dw_factor = d * log_d * (1.0f - sig);
#else
    const float d = expf(w);
    dw_factor = d;
#endif
    return d;
}

#if WKV7_FORWARD

// Staged vectors of a forward step, in shared memory.
enum { F_D, F_R, F_K, F_V, F_A, F_B, F_VECS };
// Loads of a step per thread: F_VECS vectors of N over the block's N * L threads.
constexpr int F_LOADS = (F_VECS + L - 1) / L;
// Steps whose inputs are in flight from global memory while a step computes: one step of math
// is shorter than a DRAM round trip, so a single step of lookahead would leave it exposed.
// The step loop is unrolled by AHEAD so that the register ring is indexed statically. (The
// backward keeps one step of lookahead: a deeper ring costs registers it does not have.)
constexpr int AHEAD = 3;

// y (B, T, H, N) of r, w, k, v, a, b (B, T, H, N). Block b * H + h walks head (b, h); thread
// i * L + p holds part p of state row i in registers.
//
// s0: the initial state, fp32 [b, h, i, j], batch stride s0_stride_b (0 broadcasts one
// (H, N, N) state over B), when HAS_S0; zeros otherwise. sT: the final state (B, H, N, N)
// when HAS_ST; it may alias s0 (each block reads its head before writing it). SAVE: also
// write sa (B, T, H, N) fp32 and ckpt (B, H, ceil(T / CHUNK) + 1, N, N) fp32, slot c the state
// before step c * CHUNK and the last slot the final state, for wkv7_backward.
extern "C" __global__ void __launch_bounds__(THREADS)
wkv7_forward(const IO_T* __restrict__ r, const W_T* __restrict__ w, const IO_T* __restrict__ k,
             const IO_T* __restrict__ v, const IO_T* __restrict__ a, const IO_T* __restrict__ b,
             IO_T* __restrict__ y, const float* s0, float* sT, float* __restrict__ sa,
             float* __restrict__ ckpt, int T, int H, long long s0_stride_b)
{
    __shared__ __align__(16) float stage[2][F_VECS][N];

    const int tid = threadIdx.x;
    const int row = tid / L;   // the state row i this thread updates
    const int part = tid % L;  // which part of it
    const int head = blockIdx.x;
    const int batch = head / H;
    const long long head_state = (long long)head * N * N;
    // This head's elements of step 0; a step moves H * N elements on.
    const long long first = ((long long)batch * T * H + head % H) * N;
    const long long step_stride = (long long)H * N;

    // Loader: thread tid loads element tid % N of vectors q * L + tid / N (F_D from w, the
    // others from their inputs), keeping the raw values in registers until they are staged.
    // The switch (uniform over a warp when N >= 32) reads the pointers straight from the
    // kernel parameters instead of holding a selected pointer per load in registers.
    const int load_elem = tid % N;
    const int load_vec0 = tid / N;
    IO_T raw[AHEAD][F_LOADS];
    W_T raw_w[AHEAD];
    auto load_step = [&](int slot, long long at) {
        const long long src = at + load_elem;
#pragma unroll
        for (int q = 0; q < F_LOADS; ++q) {
            switch (q * L + load_vec0) {
            case F_D: raw_w[slot] = w[src]; break;
            case F_R: raw[slot][q] = r[src]; break;
            case F_K: raw[slot][q] = k[src]; break;
            case F_V: raw[slot][q] = v[src]; break;
            case F_A: raw[slot][q] = a[src]; break;
            case F_B: raw[slot][q] = b[src]; break;
            default: break;
            }
        }
    };
    auto stage_step = [&](int slot, float (*dst)[N]) {
#pragma unroll
        for (int q = 0; q < F_LOADS; ++q) {
            const int vec = q * L + load_vec0;
            float unused_dw_factor;
            if (vec == F_D)
                dst[F_D][load_elem] = decay_of(to_float(raw_w[slot]), unused_dw_factor);
            else if (vec < F_VECS)
                dst[vec][load_elem] = to_float(raw[slot][q]);
        }
    };

    // This thread's part of state row `row`: state[4 q + e] = S[row][quad_start(q, part) + e].
    float state[PART];
#if HAS_S0
    const float* s0_row = s0 + (long long)batch * s0_stride_b + (long long)(head % H) * N * N +
                          row * N;
#endif
#pragma unroll
    for (int q = 0; q < QUADS; ++q) {
#if HAS_S0
        const float4 s4 = load4(s0_row + quad_start(q, part));
#else
        const float4 s4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#endif
        state[4 * q] = s4.x;
        state[4 * q + 1] = s4.y;
        state[4 * q + 2] = s4.z;
        state[4 * q + 3] = s4.w;
    }

    // Step t's inputs go to ring slot t % AHEAD; step 0 is staged at once.
    load_step(0, first);
    stage_step(0, stage[0]);
#pragma unroll
    for (int t = 1; t <= AHEAD; ++t)
        if (t < T)
            load_step(t % AHEAD, first + t * step_stride);
    __syncthreads();

#if SAVE
    const int chunks = (T + CHUNK - 1) / CHUNK;
    float* ckpt_row = ckpt + (long long)head * (chunks + 1) * N * N + row * N;
    auto save_state = [&](int ckpt_slot) {
#pragma unroll
        for (int q = 0; q < QUADS; ++q)
            *reinterpret_cast<float4*>(ckpt_row + (long long)ckpt_slot * N * N +
                                       quad_start(q, part)) =
                make_float4(state[4 * q], state[4 * q + 1], state[4 * q + 2], state[4 * q + 3]);
    };
#endif

    for (int t0 = 0; t0 < T; t0 += AHEAD) {
#pragma unroll
        for (int slot = 0; slot < AHEAD; ++slot) {
            const int t = t0 + slot;
            if (t >= T)
                break;
            const long long at = first + t * step_stride;
#if SAVE
            if (t % CHUNK == 0)
                save_state(t / CHUNK);
#endif
            const float(*cur)[N] = stage[t & 1];

            // sa = row . a (S before the step)
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int q = 0; q < QUADS; ++q) {
                const float4 a4 = load4(&cur[F_A][quad_start(q, part)]);
                acc[0] = fmaf(state[4 * q], a4.x, acc[0]);
                acc[1] = fmaf(state[4 * q + 1], a4.y, acc[1]);
                acc[2] = fmaf(state[4 * q + 2], a4.z, acc[2]);
                acc[3] = fmaf(state[4 * q + 3], a4.w, acc[3]);
            }
            const float sa_row = line_sum(total(acc));
            const float v_row = cur[F_V][row];

            // S = S diag(d) + sa b^T + v k^T, then y = row . r of the updated row.
#pragma unroll
            for (int e = 0; e < 4; ++e)
                acc[e] = 0.0f;
#pragma unroll
            for (int q = 0; q < QUADS; ++q) {
                const int j = quad_start(q, part);
                const float4 d4 = load4(&cur[F_D][j]);
                const float4 b4 = load4(&cur[F_B][j]);
                const float4 k4 = load4(&cur[F_K][j]);
                const float4 r4 = load4(&cur[F_R][j]);
                float* s = &state[4 * q];
                s[0] = fmaf(s[0], d4.x, fmaf(sa_row, b4.x, v_row * k4.x));
                s[1] = fmaf(s[1], d4.y, fmaf(sa_row, b4.y, v_row * k4.y));
                s[2] = fmaf(s[2], d4.z, fmaf(sa_row, b4.z, v_row * k4.z));
                s[3] = fmaf(s[3], d4.w, fmaf(sa_row, b4.w, v_row * k4.w));
                acc[0] = fmaf(s[0], r4.x, acc[0]);
                acc[1] = fmaf(s[1], r4.y, acc[1]);
                acc[2] = fmaf(s[2], r4.z, acc[2]);
                acc[3] = fmaf(s[3], r4.w, acc[3]);
            }
            const float y_row = line_sum(total(acc));
            if (part == 0) {
                y[at + row] = from_float<IO_T>(y_row);
#if SAVE
                sa[at + row] = sa_row;
#endif
            }

            // Stage the next step into the other buffer: it was last read in step t - 1, which
            // every thread finished before the previous barrier.
            if (t + 1 < T) {
                const int next_slot = (slot + 1) % AHEAD;
                stage_step(next_slot, stage[(t + 1) & 1]);
                if (t + 1 + AHEAD < T)
                    load_step(next_slot, at + (1 + AHEAD) * step_stride);
                __syncthreads();
            }
        }
    }

#if SAVE
    save_state(chunks);
#endif
#if HAS_ST
    float* st_row = sT + head_state + row * N;
#pragma unroll
    for (int q = 0; q < QUADS; ++q)
        *reinterpret_cast<float4*>(st_row + quad_start(q, part)) =
            make_float4(state[4 * q], state[4 * q + 1], state[4 * q + 2], state[4 * q + 3]);
#else
    (void)head_state;
#endif
}

#endif  // WKV7_FORWARD

#if WKV7_BACKWARD

// Staged vectors of a backward step, in shared memory: D the decay, DWF d * (d log d / dw).
enum { G_D, G_DWF, G_R, G_K, G_A, G_B, G_V, G_DY, G_SA, G_VECS };
// Loaded vectors (w gives G_D and G_DWF): slot 0 w, slots 1.. the vectors G_R ...
constexpr int G_SOURCES = G_VECS - 1;
constexpr int G_LOADS = (G_SOURCES + L - 1) / L;

// dr, dw, dk, dv, da, db (B, T, H, N, in the inputs' types) from dy, given the forward's sa and
// ckpt (wkv7_forward with SAVE), by backstepping (B.4): walking t = T-1 .. 0 with the adjoint
// G = dL/dS_t, recovering S_{t-1} = (S_t - v k^T - sa b^T) diag(1/d) inside a chunk and
// reloading the checkpoint at the chunk's first step. dsT: dL/dS_T, fp32 (B, H, N, N), when
// HAS_DST (G starts at zero otherwise). ds0: dL/dS_0 fp32 (B, H, N, N) when HAS_DS0.
//
// Block b * H + h walks head (b, h). Thread l * L + p owns line l: part p of column l of S and
// of G, and part p of row l of G (G is kept twice, updated alike), so the column sums (dr, dd,
// dk, db, da) and the row sums (dv, dsa) are thread-local plus the L-lane shuffle. dsa goes
// through shared memory (every column needs all of it): a second barrier per step.
extern "C" __global__ void __launch_bounds__(THREADS)
wkv7_backward(const IO_T* __restrict__ r, const W_T* __restrict__ w,
              const IO_T* __restrict__ k, const IO_T* __restrict__ v,
              const IO_T* __restrict__ a, const IO_T* __restrict__ b,
              const IO_T* __restrict__ dy, const float* __restrict__ dsT,
              const float* __restrict__ sa, const float* __restrict__ ckpt,
              IO_T* __restrict__ dr, W_T* __restrict__ dw, IO_T* __restrict__ dk,
              IO_T* __restrict__ dv, IO_T* __restrict__ da, IO_T* __restrict__ db,
              float* __restrict__ ds0, int T, int H)
{
    __shared__ __align__(16) float stage[2][G_VECS][N];
    __shared__ __align__(16) float dsa_all[N];

    const int tid = threadIdx.x;
    const int line = tid / L;  // the column and the row l of this thread
    const int part = tid % L;
    const int head = blockIdx.x;
    const long long first = ((long long)(head / H) * T * H + head % H) * N;
    const long long step_stride = (long long)H * N;

    // Loader: thread tid loads element tid % N of sources q * L + tid / N, source s filling
    // staged vector s + 1 (w fills G_D and G_DWF); as in the forward, a switch on the source.
    const int load_elem = tid % N;
    const int load_src0 = tid / N;
    IO_T raw[G_LOADS];
    W_T raw_w;
    float raw_sa;
    auto load_step = [&](long long at) {
        const long long src = at + load_elem;
#pragma unroll
        for (int q = 0; q < G_LOADS; ++q) {
            switch (q * L + load_src0 + 1) {
            case G_DWF: raw_w = w[src]; break;
            case G_R: raw[q] = r[src]; break;
            case G_K: raw[q] = k[src]; break;
            case G_A: raw[q] = a[src]; break;
            case G_B: raw[q] = b[src]; break;
            case G_V: raw[q] = v[src]; break;
            case G_DY: raw[q] = dy[src]; break;
            case G_SA: raw_sa = sa[src]; break;
            default: break;
            }
        }
    };
    auto stage_step = [&](float (*dst)[N]) {
#pragma unroll
        for (int q = 0; q < G_LOADS; ++q) {
            const int vec = q * L + load_src0 + 1;
            if (vec == G_DWF) {
                float dw_factor;
                dst[G_D][load_elem] = decay_of(to_float(raw_w), dw_factor);
                dst[G_DWF][load_elem] = dw_factor;
            } else if (vec == G_SA) {
                dst[G_SA][load_elem] = raw_sa;
            } else if (vec < G_SA) {
                dst[vec][load_elem] = to_float(raw[q]);
            }
        }
    };

    // s_col[4 q + e] = S[i][line], g_col[4 q + e] = G[i][line] with i = quad_start(q, part) + e;
    // g_row[4 q + e] = G[line][j] with j = quad_start(q, part) + e.
    float s_col[PART], g_col[PART], g_row[PART];
    const int chunks = (T + CHUNK - 1) / CHUNK;
    const float* ckpt_col = ckpt + (long long)head * (chunks + 1) * N * N + line;
    // S starts at S_T, the last checkpoint slot.
    const float* s_final = ckpt_col + (long long)chunks * N * N;
#pragma unroll
    for (int q = 0; q < QUADS; ++q) {
#pragma unroll
        for (int e = 0; e < 4; ++e)
            s_col[4 * q + e] = s_final[(quad_start(q, part) + e) * N];
#if HAS_DST
        const float* g0 = dsT + (long long)head * N * N;
        const float4 row4 = load4(g0 + line * N + quad_start(q, part));
        g_row[4 * q] = row4.x;
        g_row[4 * q + 1] = row4.y;
        g_row[4 * q + 2] = row4.z;
        g_row[4 * q + 3] = row4.w;
#pragma unroll
        for (int e = 0; e < 4; ++e)
            g_col[4 * q + e] = g0[(quad_start(q, part) + e) * N + line];
#else
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            g_row[4 * q + e] = 0.0f;
            g_col[4 * q + e] = 0.0f;
        }
#endif
    }

    long long at = first + (long long)(T - 1) * step_stride;
    load_step(at);
    stage_step(stage[(T - 1) & 1]);
    __syncthreads();

    for (int t = T - 1; t >= 0; --t, at -= step_stride) {
        if (t > 0)
            load_step(at - step_stride);
        const float(*cur)[N] = stage[t & 1];
        const float d_l = cur[G_D][line], r_l = cur[G_R][line], k_l = cur[G_K][line];
        const float b_l = cur[G_B][line], a_l = cur[G_A][line], dy_l = cur[G_DY][line];

        // Column l with S_t: dr = S_t^T dy, and G += dy r^T.
        float acc_dr[2] = {0.0f, 0.0f};
#pragma unroll
        for (int q = 0; q < QUADS; ++q) {
            const float4 dy4 = load4(&cur[G_DY][quad_start(q, part)]);
            const float dy_q[4] = {dy4.x, dy4.y, dy4.z, dy4.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                acc_dr[e & 1] = fmaf(s_col[4 * q + e], dy_q[e], acc_dr[e & 1]);
                g_col[4 * q + e] = fmaf(dy_q[e], r_l, g_col[4 * q + e]);
            }
        }

        // S_t becomes S_{t-1} in place: reloaded at a chunk's first step (its own branch, so
        // the loads are not hoisted above the dr pass, where S_t is still live; the row pass
        // below covers their latency), recovered by backstepping otherwise.
        if (t % CHUNK == 0) {
            const float* ckpt_src = ckpt_col + (long long)(t / CHUNK) * N * N;
#pragma unroll
            for (int q = 0; q < QUADS; ++q)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    s_col[4 * q + e] = ckpt_src[(quad_start(q, part) + e) * N];
        } else {
            const float inv_d = 1.0f / d_l;
#pragma unroll
            for (int q = 0; q < QUADS; ++q) {
                const int i = quad_start(q, part);
                const float4 v4 = load4(&cur[G_V][i]);
                const float4 sa4 = load4(&cur[G_SA][i]);
                const float v_q[4] = {v4.x, v4.y, v4.z, v4.w};
                const float sa_q[4] = {sa4.x, sa4.y, sa4.z, sa4.w};
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    float& s = s_col[4 * q + e];
                    s = (s - v_q[e] * k_l - sa_q[e] * b_l) * inv_d;
                }
            }
        }

        // Row l: G += dy r^T, then dv = G k and dsa = G b (row sums).
        float acc_dv[2] = {0.0f, 0.0f}, acc_dsa[2] = {0.0f, 0.0f};
#pragma unroll
        for (int q = 0; q < QUADS; ++q) {
            const int j = quad_start(q, part);
            const float4 r4 = load4(&cur[G_R][j]);
            const float4 k4 = load4(&cur[G_K][j]);
            const float4 b4 = load4(&cur[G_B][j]);
            const float r_q[4] = {r4.x, r4.y, r4.z, r4.w};
            const float k_q[4] = {k4.x, k4.y, k4.z, k4.w};
            const float b_q[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float& g = g_row[4 * q + e];
                g = fmaf(dy_l, r_q[e], g);
                acc_dv[e & 1] = fmaf(g, k_q[e], acc_dv[e & 1]);
                acc_dsa[e & 1] = fmaf(g, b_q[e], acc_dsa[e & 1]);
            }
        }
        const float dsa_l = line_sum(acc_dsa[0] + acc_dsa[1]);
        if (part == 0)
            dsa_all[line] = dsa_l;

        // Column l with S_{t-1}: dd = sum_i G S_{t-1}, dk = G^T v, db = G^T sa.
        float acc_dd[2] = {0.0f, 0.0f}, acc_dk[2] = {0.0f, 0.0f}, acc_db[2] = {0.0f, 0.0f};
#pragma unroll
        for (int q = 0; q < QUADS; ++q) {
            const int i = quad_start(q, part);
            const float4 v4 = load4(&cur[G_V][i]);
            const float4 sa4 = load4(&cur[G_SA][i]);
            const float v_q[4] = {v4.x, v4.y, v4.z, v4.w};
            const float sa_q[4] = {sa4.x, sa4.y, sa4.z, sa4.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float g = g_col[4 * q + e];
                acc_dd[e & 1] = fmaf(g, s_col[4 * q + e], acc_dd[e & 1]);
                acc_dk[e & 1] = fmaf(g, v_q[e], acc_dk[e & 1]);
                acc_db[e & 1] = fmaf(g, sa_q[e], acc_db[e & 1]);
            }
        }
        __syncthreads();  // dsa_all complete

        // da = S_{t-1}^T dsa (column sum), then G = G diag(d) + dsa a^T in both copies.
        float acc_da[2] = {0.0f, 0.0f};
#pragma unroll
        for (int q = 0; q < QUADS; ++q) {
            const int i = quad_start(q, part);
            const float4 dsa4 = load4(&dsa_all[i]);
            const float dsa_q[4] = {dsa4.x, dsa4.y, dsa4.z, dsa4.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float& g = g_col[4 * q + e];
                acc_da[e & 1] = fmaf(s_col[4 * q + e], dsa_q[e], acc_da[e & 1]);
                g = fmaf(g, d_l, dsa_q[e] * a_l);
            }
        }
#pragma unroll
        for (int q = 0; q < QUADS; ++q) {
            const int j = quad_start(q, part);
            const float4 d4 = load4(&cur[G_D][j]);
            const float4 a4 = load4(&cur[G_A][j]);
            const float d_q[4] = {d4.x, d4.y, d4.z, d4.w};
            const float a_q[4] = {a4.x, a4.y, a4.z, a4.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float& g = g_row[4 * q + e];
                g = fmaf(g, d_q[e], dsa_l * a_q[e]);
            }
        }
        const float dr_l = line_sum(acc_dr[0] + acc_dr[1]);
        const float dd_l = line_sum(acc_dd[0] + acc_dd[1]);
        const float dk_l = line_sum(acc_dk[0] + acc_dk[1]);
        const float db_l = line_sum(acc_db[0] + acc_db[1]);
        const float dv_l = line_sum(acc_dv[0] + acc_dv[1]);
        const float da_l = line_sum(acc_da[0] + acc_da[1]);
        if (part == 0) {
            const long long out = at + line;
            dr[out] = from_float<IO_T>(dr_l);
            dw[out] = from_float<W_T>(dd_l * cur[G_DWF][line]);
            dk[out] = from_float<IO_T>(dk_l);
            dv[out] = from_float<IO_T>(dv_l);
            da[out] = from_float<IO_T>(da_l);
            db[out] = from_float<IO_T>(db_l);
        }

        // Stage step t - 1 into the other buffer (last read in step t + 1, before the barrier
        // that ended it); the barrier also keeps dsa_all until every column has read it.
        if (t > 0)
            stage_step(stage[(t - 1) & 1]);
        __syncthreads();
    }

#if HAS_DS0
    float* ds0_row = ds0 + (long long)head * N * N + line * N;
#pragma unroll
    for (int q = 0; q < QUADS; ++q)
        *reinterpret_cast<float4*>(ds0_row + quad_start(q, part)) =
            make_float4(g_row[4 * q], g_row[4 * q + 1], g_row[4 * q + 2], g_row[4 * q + 3]);
#endif
}

#endif  // WKV7_BACKWARD
