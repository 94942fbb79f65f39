#include "bf16_exchange.h"
#include <string.h>

static inline uint16_t round_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16, quiet = (bits >> 16) | 0x40u;
    return (uint16_t)((bits & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
}

static inline float widen_bf16(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    memcpy(&result, &bits, 4);
    return result;
}

void lstm_bf16_from_float(const float *source, uint16_t *target, long count) {
    for (long k = 0; k < count; k++) target[k] = round_bf16(source[k]);
}

void lstm_float_from_bf16(const uint16_t *source, float *target, long count) {
    for (long k = 0; k < count; k++) target[k] = widen_bf16(source[k]);
}

void lstm_bf16_add(const uint16_t *addend, uint16_t *sum, long count) {
    for (long k = 0; k < count; k++) sum[k] = round_bf16(widen_bf16(addend[k]) + widen_bf16(sum[k]));
}
