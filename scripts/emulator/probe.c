/* probe.c: CPUID check, one vdpbf16ps, libxsmm bsmm VNNI_A layout check.
 * Usage: probe [arch ...]   (default: the auto-detected arch only)
 * env PROBE_NO_BF16INSN=1 skips the raw vdpbf16ps test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <setjmp.h>
#include <cpuid.h>
#include <libxsmm.h>

static sigjmp_buf jb;
static void on_sigill(int s) { (void)s; siglongjmp(jb, 1); }

static unsigned short f2bf(float f) { unsigned int u; memcpy(&u, &f, 4); return (unsigned short)(u >> 16); } /* truncation; inputs chosen exactly representable */
static float bf2f(unsigned short h) { unsigned int u = (unsigned int)h << 16; float f; memcpy(&f, &u, 4); return f; }

/* sizes: env PROBE_M / PROBE_N / PROBE_K (default 32 each, max 128, K even) */
#define MAXD 128
static int M = 32, N = 32, K = 32;

/* layout variants for A (M x K, column-major, lda=M) */
static size_t idxA(int layout, int m, int k) {
  switch (layout) {
    case 0: return ((size_t)(k/2)*M + m)*2 + (k%2);  /* brief's formula: VNNI pairs along K */
    case 1: return (size_t)k*M + m;                   /* plain column-major (no VNNI) */
    case 2: return ((size_t)(m/2)*K + k)*2 + (m%2);  /* pairs along M (wrong on purpose) */
  }
  return 0;
}
static const char* lname[] = { "VNNI pairs along K: ((k/2)*M+m)*2+(k%2)", "plain col-major k*M+m", "pairs along M ((m/2)*K+k)*2+(m%2)" };

static int run_arch(const char* arch) {
  static unsigned short A[MAXD*MAXD], B[MAXD*MAXD];
  static float C[MAXD*MAXD], R[MAXD*MAXD];
  float alpha = 1.f, beta = 0.f;
  int flags = LIBXSMM_GEMM_FLAG_VNNI_A;
  int m, n, k, layout, rc = 0;
  libxsmm_bsmmfunction fn;
  if (arch) libxsmm_set_target_arch(arch);
  printf("[%s] libxsmm_get_target_arch() = %s\n", arch ? arch : "auto", libxsmm_get_target_arch());
  fn = libxsmm_bsmmdispatch(M, N, K, NULL, NULL, NULL, &alpha, &beta, &flags, NULL);
  printf("[%s] bsmmdispatch(VNNI_A, m=%d n=%d k=%d, lda/ldb/ldc=NULL, alpha=1, beta=0) -> %p\n", libxsmm_get_target_arch(), M, N, K, (void*)fn);
  if (!fn) return 1;
  /* exact values: small integers / 8 -> products and sums exact in fp32 */
  static float a[MAXD][MAXD], b[MAXD][MAXD];
  for (m = 0; m < M; ++m) for (k = 0; k < K; ++k) a[m][k] = (float)(((m*7 + k*3) % 17) - 8) / 8.f;
  for (k = 0; k < K; ++k) for (n = 0; n < N; ++n) b[k][n] = (float)(((k*5 + n*11) % 13) - 6) / 4.f;
  for (m = 0; m < M; ++m) for (n = 0; n < N; ++n) { float s = 0; for (k = 0; k < K; ++k) s += a[m][k]*b[k][n]; R[n*M+m] = s; }
  for (k = 0; k < K; ++k) for (n = 0; n < N; ++n) B[n*K+k] = f2bf(b[k][n]);   /* B col-major K x N, ldb=K */
  for (layout = 0; layout < 3; ++layout) {
    float maxerr = 0;
    for (m = 0; m < M; ++m) for (k = 0; k < K; ++k) A[idxA(layout, m, k)] = f2bf(a[m][k]);
    for (m = 0; m < M*N; ++m) C[m] = 12345.f; /* beta=0 must overwrite */
    if (sigsetjmp(jb, 1) == 0) {
      fn((const libxsmm_bfloat16*)A, (const libxsmm_bfloat16*)B, C);
      for (m = 0; m < M*N; ++m) { float e = C[m] - R[m]; if (e < 0) e = -e; if (e > maxerr) maxerr = e; }
      printf("[%s] A layout %-45s max|C-ref| = %g  %s\n", libxsmm_get_target_arch(), lname[layout], maxerr, maxerr == 0 ? "MATCH" : "mismatch");
    } else { printf("[%s] kernel raised SIGILL\n", libxsmm_get_target_arch()); rc = 2; break; }
  }
  return rc;
}

int main(int argc, char** argv) {
  unsigned int a, b, c, d;
  if (getenv("PROBE_M")) M = atoi(getenv("PROBE_M"));
  if (getenv("PROBE_N")) N = atoi(getenv("PROBE_N"));
  if (getenv("PROBE_K")) K = atoi(getenv("PROBE_K"));
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGILL, on_sigill);
  __cpuid_count(7, 0, a, b, c, d);
  printf("CPUID.7.0: EAX=%08x EBX=%08x ECX=%08x EDX=%08x  AVX512F=%u DQ=%u CD=%u BW=%u VL=%u VNNI(ecx11)=%u\n", a, b, c, d,
         (b>>16)&1, (b>>17)&1, (b>>28)&1, (b>>30)&1, (b>>31)&1, (c>>11)&1);
  unsigned int maxsub = a;
  if (maxsub >= 1) { __cpuid_count(7, 1, a, b, c, d); printf("CPUID.7.1: EAX=%08x  AVX512_BF16=%u\n", a, (a>>5)&1); }
  else printf("CPUID.7.1: not available (max subleaf 0) -> AVX512_BF16=0\n");
  if (!getenv("PROBE_NO_BF16INSN")) {
    if (sigsetjmp(jb, 1) == 0) {
      float out[16], x[16]; unsigned short y[32], z[32]; int i;
      for (i = 0; i < 16; ++i) x[i] = 1.f;
      for (i = 0; i < 32; ++i) { y[i] = f2bf(2.f); z[i] = f2bf(3.f); }
      __asm__ volatile("vmovups %1, %%zmm0\n\tvmovdqu16 %2, %%zmm1\n\tvmovdqu16 %3, %%zmm2\n\t"
                       "vdpbf16ps %%zmm2, %%zmm1, %%zmm0\n\tvmovups %%zmm0, %0"
                       : "=m"(out) : "m"(x), "m"(y), "m"(z) : "xmm0", "xmm1", "xmm2");
      printf("vdpbf16ps executed: out[0]=%g (expect 13)\n", out[0]);
    } else printf("vdpbf16ps: SIGILL\n");
  }
  libxsmm_init();
  printf("libxsmm detected arch: %s\n", libxsmm_get_target_arch());
  int rc = 0;
  if (argc < 2) rc |= run_arch(NULL);
  for (int i = 1; i < argc; ++i) rc |= run_arch(argv[i]);
  libxsmm_finalize();
  printf("PROBE DONE rc=%d\n", rc);
  return rc;
}
