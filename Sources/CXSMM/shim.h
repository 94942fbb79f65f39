#include <libxsmm.h>

// libxsmm's kernel type, libxsmm_smmfunction, takes variadic prefetch arguments, which Swift
// cannot call: kernels cross into Swift as opaque pointers and are called through here.

/// libxsmm_smmdispatch of a column-major C[m,n] = A[m,k] op(B)[k,n] + beta C, alpha 1, no
/// prefetch; `transposeB` reads B stored as [n,k]. NULL when libxsmm has no kernel for it.
static inline const void *lstm_xsmm_dispatch(int m, int n, int k, int lda, int ldb, int ldc,
                                             float beta, int transposeB) {
    const libxsmm_blasint m_ = m, n_ = n, k_ = k, lda_ = lda, ldb_ = ldb, ldc_ = ldc;
    const float alpha = 1;
    const int flags = transposeB ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
    const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    libxsmm_smmfunction kernel = libxsmm_smmdispatch(m_, n_, k_, &lda_, &ldb_, &ldc_, &alpha, &beta, &flags, &prefetch);
    return (const void *)kernel;
}

/// Calls a kernel from lstm_xsmm_dispatch.
static inline void lstm_xsmm_call(const void *kernel, const float *a, const float *b, float *c) {
    ((libxsmm_smmfunction)kernel)(a, b, c);
}

/// libxsmm_bsmmdispatch of a column-major C[m,n] (fp32) = A[m,k] B[k,n] + beta C with bf16 A and B
/// and fp32 sums, A in libxsmm's VNNI pair layout ([k/2][lda][2]); k must be even. NULL when libxsmm
/// has no kernel for it (no AVX-512 target, or an odd k).
static inline const void *lstm_xsmm_bf16_dispatch(int m, int n, int k, int lda, int ldb, int ldc, float beta) {
    const libxsmm_blasint m_ = m, n_ = n, k_ = k, lda_ = lda, ldb_ = ldb, ldc_ = ldc;
    const float alpha = 1;
    const int flags = LIBXSMM_GEMM_FLAG_VNNI_A;
    const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    libxsmm_bsmmfunction kernel = libxsmm_bsmmdispatch(m_, n_, k_, &lda_, &ldb_, &ldc_, &alpha, &beta, &flags, &prefetch);
    return (const void *)kernel;
}

/// Calls a kernel from lstm_xsmm_bf16_dispatch.
static inline void lstm_xsmm_bf16_call(const void *kernel, const uint16_t *a, const uint16_t *b, float *c) {
    ((libxsmm_bsmmfunction)kernel)((const libxsmm_bfloat16 *)a, (const libxsmm_bfloat16 *)b, c);
}
