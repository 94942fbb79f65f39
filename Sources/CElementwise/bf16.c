#include "bf16.h"

#include <string.h>

// Compiled for AVX2 (the floor of every kernel path; bf16 products only run where AVX512_BF16 is, or
// on the reference path), where clang vectorises the integer rounding of these loops.
#define AVX2 __attribute__((target("avx2,fma")))

static inline __attribute__((always_inline)) uint16_t round_bits(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);  // NaN: keep it quiet
    bits += 0x7fffu + ((bits >> 16) & 1);  // ties to the even neighbour; carries into the exponent as it should
    return (uint16_t)(bits >> 16);
}

uint16_t lstm_bf16_round(float x) { return round_bits(x); }

AVX2 void lstm_bf16_rows(const float *src, long rows, long columns, long src_stride, uint16_t *dst,
                         long dst_stride) {
    for (long r = 0; r < rows; r++) {
        const float *in = src + r * src_stride;
        uint16_t *out = dst + r * dst_stride;
        for (long c = 0; c < columns; c++) out[c] = round_bits(in[c]);
        for (long c = columns; c < dst_stride; c++) out[c] = 0;
    }
}

AVX2 void lstm_bf16_columns(const float *src, long rows, long columns, long src_stride, uint16_t *dst,
                            long dst_stride) {
    for (long c = 0; c < columns; c++) {
        uint16_t *out = dst + c * dst_stride;
        for (long r = 0; r < rows; r++) out[r] = round_bits(src[r * src_stride + c]);
        for (long r = rows; r < dst_stride; r++) out[r] = 0;
    }
}

AVX2 void lstm_bf16_pairs(const float *src, long rows, long columns, long src_stride, uint16_t *dst) {
    for (long r = 0; r < rows; r += 2) {
        const float *even = src + r * src_stride, *odd = even + src_stride;
        uint16_t *out = dst + r * columns;  // pair r / 2 starts at (r / 2) * columns * 2
        if (r + 1 < rows) {
            for (long c = 0; c < columns; c++) {
                out[2 * c] = round_bits(even[c]);
                out[2 * c + 1] = round_bits(odd[c]);
            }
        } else {
            for (long c = 0; c < columns; c++) {
                out[2 * c] = round_bits(even[c]);
                out[2 * c + 1] = 0;
            }
        }
    }
}
