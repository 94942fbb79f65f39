#include <cpuid.h>

// CPUID checks, inlined into their caller so they compile for the caller's target: the command line
// is built for baseline x86-64 and asks these before it runs any AVX2 code.

/// The OS saves the register state named by `mask` (XCR0 bits) across context switches.
static inline int lstm_os_saves(unsigned mask) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (eax & mask) == mask;
}

/// AVX2 and FMA usable (x86-64-v3 minus its bit-manipulation extras): the model's floor.
static inline int lstm_cpu_has_avx2_fma(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
    if ((ecx & (fma | osxsave | avx)) != (fma | osxsave | avx) || !lstm_os_saves(0x6)) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx >> 5) & 1;
}

/// AVX-512 F, CD, DQ, BW and VL usable (what libxsmm's Skylake-server kernels need).
static inline int lstm_cpu_has_avx512(void) {
    unsigned eax, ebx, ecx, edx;
    if (!lstm_cpu_has_avx2_fma() || !lstm_os_saves(0xE6)) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned f = 1u << 16, dq = 1u << 17, cd = 1u << 28, bw = 1u << 30, vl = 1u << 31;
    return (ebx & (f | dq | cd | bw | vl)) == (f | dq | cd | bw | vl);
}

/// AVX512_BF16 (VCVTNE2PS2BF16, VDPBF16PS; CPUID leaf 7 subleaf 1, EAX bit 5) on top of usable
/// AVX-512: what libxsmm's bf16 kernels need to run natively (without it libxsmm 1.17 emulates).
static inline int lstm_cpu_has_avx512_bf16(void) {
    unsigned eax, ebx, ecx, edx;
    if (!lstm_cpu_has_avx512()) return 0;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return (eax >> 5) & 1;
}
