#ifndef LSTM_BF16_EXCHANGE_H
#define LSTM_BF16_EXCHANGE_H
#include <stdint.h>

// bfloat16 (the top half of an IEEE float) for gradients that cross the network at half the
// bytes (train --exchange bf16). Rounded to nearest, ties to even; a NaN stays a (quiet) NaN; a
// finite value above bf16's largest rounds to infinity, as IEEE rounding does.
//
// Compiled here, by SwiftPM's C compiler at the package's optimisation level, so the loops are
// vectorised: the same loops as static inline functions in the CMPI shim stayed scalar (3x
// slower), since Swift's import of C code does not vectorise it.

/// target[k] = bf16(source[k]), k < count.
void lstm_bf16_from_float(const float *source, uint16_t *target, long count);
/// target[k] = float(source[k]) (exact), k < count.
void lstm_float_from_bf16(const uint16_t *source, float *target, long count);
/// sum[k] = bf16(float(addend[k]) + float(sum[k])), k < count: one step of a bf16 reduction.
void lstm_bf16_add(const uint16_t *addend, uint16_t *sum, long count);

#endif
