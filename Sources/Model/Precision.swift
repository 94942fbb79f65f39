import CCPUFeatures

/// The arithmetic of the model's matrix products. Master weights, gradients, optimizer moments, h and c,
/// the gate nonlinearities, softmax and loss are fp32 in both.
public enum Precision: String, CaseIterable, Codable, Sendable {
    /// fp32 operands and sums.
    case fp32
    /// Operands rounded to bf16 (nearest even), products and sums in fp32: the CPU's bf16 dot product
    /// (VDPBF16PS) through libxsmm's bf16 kernels, or the same arithmetic in plain loops on the reference path.
    case bf16

    /// Throws, naming what is missing, when `path` cannot run this precision: bf16 runs on the reference
    /// loops anywhere, and on libxsmm only with AVX512_BF16, checked here from CPUID (libxsmm 1.17 would
    /// emulate it on other AVX-512 CPUs, slowly).
    public func check(on path: KernelPath = .active) throws {
        guard self == .bf16 else { return }
        switch path {
        case .reference:
            return
        case .avx512 where lstm_cpu_has_avx512_bf16() != 0:
            return
        case .avx2 where lstm_cpu_has_avx512_bf16() != 0:
            throw KernelPathError("--precision bf16 runs on the AVX-512 kernels, but \(KernelPath.environmentVariable)=avx2 "
                                  + "forces the AVX2 ones; unset it, or use --precision fp32")
        default:
            throw KernelPathError("--precision bf16 needs AVX512_BF16 (CPUID leaf 7 subleaf 1, EAX bit 5), which this CPU "
                                  + "does not have; use --precision fp32 (\(KernelPath.environmentVariable)=reference "
                                  + "runs bf16 arithmetic in slow plain loops, for testing)")
        }
    }
}
