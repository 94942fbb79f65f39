#include "elementwise.h"

#include <math.h>
#include <string.h>

// Each kernel's body is written once, inlined into one function per instruction set: clang
// lowers the 16-float vectors below to two ymm registers under AVX2 and one zmm under AVX-512.
// This file is compiled for baseline x86-64, so nothing here runs AVX code unasked (the command
// line checks the CPU before any model code). Swift cannot compile one function for two targets,
// hence C (docs/platform.md has the measurements).

// Only the fused multiply-adds written as fma() are fused, in both builds alike.
#pragma STDC FP_CONTRACT OFF
// The helpers pass 64-byte vectors, which -Wpsabi flags as an ABI change without AVX-512; they are
// all inlined (always_inline), so no call crosses that ABI.
#pragma clang diagnostic ignored "-Wpsabi"

#define LANES 16
typedef float vfloat __attribute__((vector_size(4 * LANES)));
typedef int vint __attribute__((vector_size(4 * LANES)));

#define INLINE static inline __attribute__((always_inline))
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

INLINE vfloat splat(float x) { return (vfloat){0} + x; }
INLINE vfloat fma_(vfloat a, vfloat b, vfloat c) { return __builtin_elementwise_fma(a, b, c); }
/// Lanes where `mask` is set from `yes`, the others from `no`.
INLINE vfloat select_(vint mask, vfloat yes, vfloat no) {
    return (vfloat)((mask & (vint)yes) | (~mask & (vint)no));
}

/// Loads n (1 ... 16) floats `stride` apart (0: one float in every lane); lanes past n are zero.
/// The full contiguous case is a plain unaligned load.
INLINE vfloat load_strided(const float *p, long n, long stride) {
    vfloat v = {0};
    if (n == LANES && stride == 1) {
        memcpy(&v, p, sizeof v);
    } else {
        for (long lane = 0; lane < n; lane++) v[lane] = p[lane * stride];
    }
    return v;
}
INLINE vfloat load(const float *p, long n) { return load_strided(p, n, 1); }

/// Stores the first n (1 ... 16) lanes, `stride` floats apart.
INLINE void store_strided(vfloat v, float *p, long n, long stride) {
    if (n == LANES && stride == 1) {
        memcpy(p, &v, sizeof v);
    } else {
        for (long lane = 0; lane < n; lane++) p[lane * stride] = v[lane];
    }
}
INLINE void store(vfloat v, float *p, long n) { store_strided(v, p, n, 1); }

/// e^x, relative error about 1.4e-7. Inputs are clamped to [-87, 88] so the result stays a finite
/// normal float: sigmoid and tanh saturate without inf or NaN (tanh exactly at -1 and 1, sigmoid
/// exactly at 1 and at 6e-39 below).
INLINE vfloat exponential(vfloat input) {
    vfloat x = select_(input > 88, splat(88), input);
    x = select_(x < -87, splat(-87), x);
    // Adding 1.5 * 2^23 rounds x / ln 2 to the nearest integer n and leaves n in the low mantissa bits.
    const float rounding_shift = 12582912.0f;
    vfloat shifted = fma_(x, splat(1.44269504f), splat(rounding_shift));
    vfloat n = shifted - rounding_shift;
    // r = x - n ln 2, with ln 2 split in two so the product is exact to float precision.
    vfloat r = fma_(n, splat(-0.693359375f), x);
    r = fma_(n, splat(2.1219444e-4f), r);
    // Cephes' minimax polynomial for e^r on [-ln 2 / 2, ln 2 / 2].
    vfloat p = splat(1.98756915e-4f);
    p = fma_(p, r, splat(1.39819995e-3f));
    p = fma_(p, r, splat(8.3334519e-3f));
    p = fma_(p, r, splat(4.16657959e-2f));
    p = fma_(p, r, splat(1.66666655e-1f));
    p = fma_(p, r, splat(5.00000012e-1f));
    vfloat exp_r = fma_(p, r * r, r + 1);
    // 2^n built directly as float bits: exponent field n + 127.
    vint integer_n = (vint)shifted - 0x4B400000;
    vfloat scale = (vfloat)((integer_n + 127) << 23);
    return exp_r * scale;
}

INLINE vfloat sigmoid(vfloat x) { return 1 / (1 + exponential(-x)); }

INLINE vfloat hyperbolic_tangent(vfloat x) {
    vfloat e = exponential(-2 * x);
    return (1 - e) / (1 + e);
}

/// Sum of the lanes, in lane order.
INLINE float lane_sum(vfloat v) {
    float total = 0;
    for (int lane = 0; lane < LANES; lane++) total += v[lane];
    return total;
}

/// How many units ahead the gate passes prefetch their rows. The next step's rows, the first
/// choice, were evicted again before use at H = 512 (a step's rows fill L2); 4 and 8 units ahead
/// measured alike.
enum { PREFETCH_UNITS = 4 };

/// Prefetches the cache lines of `count` floats from `row`. The gate passes touch one step's block
/// of each state row, rows 8 KB and more apart: a stride the hardware prefetchers do not follow, so
/// without these hints every block came from memory at the pass's pace (charlm ran 9% slower).
INLINE void prefetch_row(const float *row, long count) {
    for (long k = 0; k < count; k += LANES) __builtin_prefetch(row + k, 0, 3);
    __builtin_prefetch(row + count - 1, 0, 3);
}

/// How far apart the lanes' values lie in each operand of cell_forward.
typedef struct {
    long pre, bias, gates, mask, state;
} lane_strides;

/// Lanes are slots: a unit's pre-activations, gates and states are consecutive, its bias is shared.
static const lane_strides ALONG_SLOTS = {1, 0, 1, 1, 1};

/// n (1 ... 16) lanes forward; arguments as lstm_gates_forward's, offset to the first lane,
/// `quarter` and `gate_quarter` the distances between the gates' rows.
INLINE void cell_forward(long n, lane_strides lanes, const float *pre, long quarter, const float *bias, long units,
                         float *gates, long gate_quarter, const float *mask, float *cell_before,
                         float *hidden_before, long state_block) {
    vfloat i = sigmoid(load_strided(pre, n, lanes.pre) + load_strided(bias, n, lanes.bias));
    vfloat f = sigmoid(load_strided(pre + quarter, n, lanes.pre) + load_strided(bias + units, n, lanes.bias));
    vfloat g = hyperbolic_tangent(load_strided(pre + 2 * quarter, n, lanes.pre)
                                  + load_strided(bias + 2 * units, n, lanes.bias));
    vfloat o = sigmoid(load_strided(pre + 3 * quarter, n, lanes.pre) + load_strided(bias + 3 * units, n, lanes.bias));
    store_strided(i, gates, n, lanes.gates);
    store_strided(f, gates + gate_quarter, n, lanes.gates);
    store_strided(g, gates + 2 * gate_quarter, n, lanes.gates);
    store_strided(o, gates + 3 * gate_quarter, n, lanes.gates);
    vint masked = load_strided(mask, n, lanes.mask) == 0;
    vfloat previous_cell = load_strided(cell_before, n, lanes.state);
    vfloat c = select_(masked, previous_cell, fma_(i, g, f * previous_cell));
    store_strided(c, cell_before + state_block, n, lanes.state);
    vfloat h = select_(masked, load_strided(hidden_before, n, lanes.state), o * hyperbolic_tangent(c));
    store_strided(h, hidden_before + state_block, n, lanes.state);
}

INLINE void gates_forward(lstm_step_shape s, const float *pre, const float *bias, const float *mask,
                          float *gates, float *cell, float *hidden) {
    const long B = s.slots, H = s.units, rows = s.gate_stride, states = s.state_stride;
    if (B == 1) {
        // One slot (generate, forecast of one series): lanes along the units, where lanes along the
        // slots would leave 15 of 16 idle. Each lane does the same operations either way: the same bits.
        const lane_strides along_units = {1, 1, rows, 0, states};
        for (long j = 0; j < H; j += LANES)
            cell_forward(H - j < LANES ? H - j : LANES, along_units, pre + j, H, bias + j, H, gates + j * rows,
                         H * rows, mask, cell + j * states, hidden + j * states, 1);
        return;
    }
    for (long j = 0; j < H; j++) {
        float *unit_gates = gates + j * rows, *cell_before = cell + j * states;
        float *hidden_before = hidden + j * states;
        // The state rows a few units on write to, not cached yet (see prefetch_row). The model's gates
        // are one contiguous block per step, which the hardware prefetchers follow.
        if (j + PREFETCH_UNITS < H) {
            const long d = PREFETCH_UNITS;
            prefetch_row(cell_before + d * states + B, B);
            prefetch_row(hidden_before + d * states + B, B);
        }
        // Full vectors with a constant lane count (their loads have no tail loop), then the tail.
        long b = 0;
        for (; b + LANES <= B; b += LANES)
            cell_forward(LANES, ALONG_SLOTS, pre + j * B + b, H * B, bias + j, H, unit_gates + b, H * rows, mask + b,
                         cell_before + b, hidden_before + b, B);
        if (b < B)
            cell_forward(B - b, ALONG_SLOTS, pre + j * B + b, H * B, bias + j, H, unit_gates + b, H * rows, mask + b,
                         cell_before + b, hidden_before + b, B);
    }
}

/// One unit for n (1 ... 16) slots backward; arguments as lstm_gates_backward's, offset to the unit
/// and slot. Adds each gate gradient's lanes to partial[gate].
INLINE void cell_backward(long n, float *gates, long quarter, const float *mask, const float *cell_before,
                          float *hidden_gradient_before, long state_block, const float *recurrent_gradient,
                          float *cell_gradient, vfloat partial[4]) {
    vfloat i = load(gates, n), f = load(gates + quarter, n);
    vfloat g = load(gates + 2 * quarter, n), o = load(gates + 3 * quarter, n);
    vint masked = load(mask, n) == 0;
    const vfloat zero = {0};
    // tanh(c_t) recomputed rather than stored: the same function of the same value, so the same
    // bits, and cheaper than a [H, T*B] buffer written in forward and read back from memory here.
    vfloat c_tanh = hyperbolic_tangent(load(cell_before + state_block, n));
    vfloat dh = load(hidden_gradient_before + state_block, n) + load(recurrent_gradient, n);
    vfloat dc_after = load(cell_gradient, n);
    vfloat dc = fma_(dh * o, 1 - c_tanh * c_tanh, dc_after);
    vfloat d_gates[4] = {
        select_(masked, zero, dc * g * i * (1 - i)),
        select_(masked, zero, dc * load(cell_before, n) * f * (1 - f)),
        select_(masked, zero, dc * i * (1 - g * g)),
        select_(masked, zero, dh * c_tanh * o * (1 - o)),
    };
    for (int gate = 0; gate < 4; gate++) {
        store(d_gates[gate], gates + gate * quarter, n);
        partial[gate] += d_gates[gate];
    }
    store(select_(masked, dc_after, dc * f), cell_gradient, n);
    store(load(hidden_gradient_before, n) + select_(masked, dh, zero), hidden_gradient_before, n);
}

INLINE void gates_backward(lstm_step_shape s, const float *recurrent_gradient, const float *mask, float *gates,
                           const float *cell, float *hidden_gradient, float *cell_gradient, float *bias_gradient) {
    const long B = s.slots, H = s.units, rows = s.gate_stride, states = s.state_stride;
    for (long j = 0; j < H; j++) {
        float *unit_gates = gates + j * rows, *hidden_gradient_before = hidden_gradient + j * states;
        const float *cell_before = cell + j * states;
        if (j + PREFETCH_UNITS < H) {  // state rows not cached since forward (see prefetch_row)
            const long d = PREFETCH_UNITS;
            prefetch_row(cell_before + d * states, 2 * B);
            prefetch_row(hidden_gradient_before + d * states, 2 * B);
        }
        // The bias gradient sums the slots in sixteen lanes, then the lanes in order: a fixed order.
        vfloat partial[4] = {{0}, {0}, {0}, {0}};
        long b = 0;
        for (; b + LANES <= B; b += LANES)
            cell_backward(LANES, unit_gates + b, H * rows, mask + b, cell_before + b, hidden_gradient_before + b, B,
                          recurrent_gradient + j * B + b, cell_gradient + j * B + b, partial);
        if (b < B)
            cell_backward(B - b, unit_gates + b, H * rows, mask + b, cell_before + b, hidden_gradient_before + b, B,
                          recurrent_gradient + j * B + b, cell_gradient + j * B + b, partial);
        for (int gate = 0; gate < 4; gate++) bias_gradient[gate * H + j] += lane_sum(partial[gate]);
    }
}

INLINE float softmax(float *row, long count) {
    float maximum = row[0];
    for (long k = 1; k < count; k++)
        if (row[k] > maximum) maximum = row[k];
    // Sixteen partial sums: not one long chain of dependent adds.
    vfloat partial = {0};
    long k = 0;
    for (; k + LANES <= count; k += LANES) {
        vfloat e = exponential(load(row + k, LANES) - maximum);
        store(e, row + k, LANES);
        partial += e;
    }
    float sum = lane_sum(partial);
    if (k < count) {
        store(exponential(load(row + k, count - k) - maximum), row + k, count - k);
        for (long tail = k; tail < count; tail++) sum += row[tail];
    }
    const float inverse = 1 / sum;
    for (long k = 0; k < count; k++) row[k] *= inverse;
    return logf(sum) + maximum;
}

AVX2 static void gates_forward_avx2(lstm_step_shape s, const float *pre, const float *bias, const float *mask,
                                    float *gates, float *cell, float *hidden) {
    gates_forward(s, pre, bias, mask, gates, cell, hidden);
}
AVX512 static void gates_forward_avx512(lstm_step_shape s, const float *pre, const float *bias, const float *mask,
                                        float *gates, float *cell, float *hidden) {
    gates_forward(s, pre, bias, mask, gates, cell, hidden);
}
void lstm_gates_forward(lstm_isa isa, lstm_step_shape s, const float *preactivations, const float *bias,
                        const float *mask, float *gates, float *cell, float *hidden) {
    (isa == LSTM_ISA_AVX512 ? gates_forward_avx512 : gates_forward_avx2)(s, preactivations, bias, mask, gates, cell,
                                                                         hidden);
}

AVX2 static void gates_backward_avx2(lstm_step_shape s, const float *recurrent_gradient, const float *mask,
                                     float *gates, const float *cell, float *hidden_gradient, float *cell_gradient,
                                     float *bias_gradient) {
    gates_backward(s, recurrent_gradient, mask, gates, cell, hidden_gradient, cell_gradient, bias_gradient);
}
AVX512 static void gates_backward_avx512(lstm_step_shape s, const float *recurrent_gradient, const float *mask,
                                         float *gates, const float *cell, float *hidden_gradient,
                                         float *cell_gradient, float *bias_gradient) {
    gates_backward(s, recurrent_gradient, mask, gates, cell, hidden_gradient, cell_gradient, bias_gradient);
}
void lstm_gates_backward(lstm_isa isa, lstm_step_shape s, const float *recurrent_gradient, const float *mask,
                         float *gates, const float *cell, float *hidden_gradient, float *cell_gradient,
                         float *bias_gradient) {
    (isa == LSTM_ISA_AVX512 ? gates_backward_avx512 : gates_backward_avx2)(s, recurrent_gradient, mask, gates, cell,
                                                                           hidden_gradient, cell_gradient,
                                                                           bias_gradient);
}

AVX2 static float softmax_avx2(float *row, long count) { return softmax(row, count); }
AVX512 static float softmax_avx512(float *row, long count) { return softmax(row, count); }
float lstm_softmax(lstm_isa isa, float *row, long count) {
    return isa == LSTM_ISA_AVX512 ? softmax_avx512(row, count) : softmax_avx2(row, count);
}
