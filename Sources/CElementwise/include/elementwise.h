#ifndef LSTM_ELEMENTWISE_H
#define LSTM_ELEMENTWISE_H

#include "bf16.h"  // the bf16 conversions are part of this module's surface

// The model's elementwise kernels: the LSTM gate passes and the softmax, each compiled twice, for
// AVX2 + FMA (the floor) and for AVX-512, and chosen by the caller (the model's kernel path, so
// LSTM_DIST_KERNELS forces either on any CPU that runs it). Both builds do the same operations in
// the same order, fused multiply-adds only where written, so they give the same bits.
//
// Matrices are row-major with the row strides given: the model's gates are one block [4H, B] per
// step (rows B apart), its states B consecutive floats of each row of [H, (T+1)*B] (LSTMLayer.swift
// describes the layout).

typedef enum { LSTM_ISA_AVX2 = 0, LSTM_ISA_AVX512 = 1 } lstm_isa;

/// One layer's timestep: B slots and H units, the row strides of the step's gates [4H, B] and of
/// the states [H, (T+1)*B].
typedef struct {
    long slots, units, gate_stride, state_stride;
} lstm_step_shape;

/// Forward cell update of one timestep for every unit and slot. preactivations [4H, B] (rows B
/// apart): the step's products, less the bias [4H]; mask [B]: 0 where the slot has no data.
/// Writes the activations i, f, g, o into the step's block of `gates`; reads c and h from the
/// step's blocks of `cell` and `hidden` and writes the new ones into the next blocks, B floats on.
/// Masked slots keep their c and h.
void lstm_gates_forward(lstm_isa isa, lstm_step_shape shape, const float *preactivations,
                        const float *bias, const float *mask, float *gates, float *cell,
                        float *hidden);

/// Backward cell update of one timestep. gates: the step's activations, replaced by the gradients
/// of their pre-activations, whose sums over the slots are added to bias_gradient [4H].
/// hidden_gradient: the step's block receives d/d(h_{t-1}) from masked slots, the next block
/// holds d/d(h_t) from above, to which recurrent_gradient [H, B] (rows B apart) adds U dZ_{t+1};
/// cell_gradient [H, B] in: d/d(c_t), out: d/d(c_{t-1}). Masked slots pass both state gradients
/// through and get zero gate gradients.
void lstm_gates_backward(lstm_isa isa, lstm_step_shape shape, const float *recurrent_gradient,
                         const float *mask, float *gates, const float *cell,
                         float *hidden_gradient, float *cell_gradient, float *bias_gradient);

/// Softmax of `count` floats in place. Returns log(sum(exp(row - max))) + max, the log-partition
/// the cross-entropy needs.
float lstm_softmax(lstm_isa isa, float *row, long count);

#endif
