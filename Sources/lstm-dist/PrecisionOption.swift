import ArgumentParser
import Comm
import Model
import Training

/// `--precision`: one option for `train` and for the commands that run a checkpoint (evaluate,
/// predict, generate, forecast). Checked against this CPU before any work (`Precision.check`).
struct PrecisionOption: ParsableArguments {
    @Option(help: ArgumentHelp("""
        The arithmetic of the model's matrix products. bf16: operands rounded to bf16 (nearest even), \
        products summed in fp32, by the CPU's bf16 dot product; weights, gradients, optimizer state, h and c, \
        the gates, softmax, loss and checkpoints stay fp32. bf16 needs a CPU with AVX512_BF16 (Intel Cooper \
        Lake, Sapphire Rapids and later; AMD Zen 4 and later); elsewhere it is refused, and \
        \(KernelPath.environmentVariable)=reference runs it in plain loops, slowly, for testing. \
        (default: fp32; train --resume: the checkpoint's)
        """, valueName: "fp32|bf16"))
    var precision: Precision?

    func apply(to request: inout TrainingRequest) {
        request.precision = precision
    }

    /// What the commands that run a checkpoint use: fp32 unless given (the checkpoint's fp32 weights
    /// either way).
    var resolved: Precision { precision ?? .fp32 }

    /// Collective, for evaluate, predict and forecast under mpirun: `resolved` after every rank's CPU
    /// was checked; a refusal ends every rank with one line.
    func checked(_ comm: MPICommunicator) throws -> Precision {
        do {
            try comm.requireOnEveryRank { try resolved.check() }
        } catch {
            throw comm.failTogether(error)
        }
        return resolved
    }
}

extension Precision: ExpressibleByArgument {}
