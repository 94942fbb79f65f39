#ifndef LSTM_BF16_H
#define LSTM_BF16_H

#include <stdint.h>

// fp32 -> bf16 with round-to-nearest-even (as VCVTNE2PS2BF16 and PyTorch round), written into the
// layouts libxsmm 1.17's bf16 kernels take. Matrices are row-major with the row strides given; the
// padding that makes a product's depth even is written as zeros, so it adds nothing to a sum.

/// x rounded to the nearest bf16, ties to even; NaN stays NaN (quiet), infinities stay infinite.
uint16_t lstm_bf16_round(float x);

/// dst [rows, dst_stride] = src [rows, columns] rounded; columns columns ..< dst_stride are zero.
void lstm_bf16_rows(const float *src, long rows, long columns, long src_stride, uint16_t *dst, long dst_stride);

/// dst [columns, dst_stride] = src [rows, columns] transposed and rounded; columns rows ..< dst_stride
/// of dst are zero.
void lstm_bf16_columns(const float *src, long rows, long columns, long src_stride, uint16_t *dst,
                       long dst_stride);

/// libxsmm's VNNI pair layout of src [rows, columns] rounded: rows 2p and 2p + 1 interleaved, element
/// (r, c) at ((r / 2) * columns + c) * 2 + r % 2; an odd last row is paired with zeros.
void lstm_bf16_pairs(const float *src, long rows, long columns, long src_stride, uint16_t *dst);

#endif
