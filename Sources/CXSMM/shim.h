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
