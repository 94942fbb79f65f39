import Model
import Storage

extension ModelConfig {
    /// About how many bytes one rank holds to run this model over `slots` x `window` on
    /// `header`'s rows (none without one): parameters, gradients, two optimizer moments and a checkpoint's copy of
    /// the three; per layer copies of the kernels, the gate activations and
    /// the states of every timestep; the token table where the first layer uses one; the batch and its
    /// outputs; two blocks of rows per slot. In Double, so that absurd sizes cannot overflow before
    /// they are refused.
    func estimatedBytes(slots: Int, window: Int, header: DatasetHeader?) -> Double {
        let H = Double(hidden), G = 4 * H, B = Double(slots), T = Double(window), K = Double(outputs)
        let I = Double(input.width), layers = Double(self.layers)
        // Input kernels (the first layer's from I inputs), recurrent kernels and biases, the head.
        var parameters: Double = I * G + (layers - 1) * H * G + layers * (H * G + G) + H * K + K
        if case .tokens(let vocabulary, let embedding) = input { parameters += Double(vocabulary) * Double(embedding) }
        let perLayer: Double = G * B * T + 3 * H * B * (T + 1)
        let batch: Double = B * T * (2 * I + 4 + 2 * K)
        let kernelCopies: Double = 2 * (G * (I + H) + (layers - 1) * G * 2 * H)  // transposed, and as they are
        var floats: Double = 7 * parameters + kernelCopies + layers * perLayer + batch
        if case .tokens(let vocabulary, let embedding) = input,
           TokenProjection.pays(vocabulary: vocabulary, slots: slots, window: window) {
            let V = Double(vocabulary)
            floats += 2 * G * V + max(V, G) * Double(embedding)  // the table, its gradient, a transposed copy
        }
        guard let header else { return 4 * floats }
        let rowBytes: Double = Double(header.inputsPerRow + header.targetsPerRow) * 4
        return 4 * floats + B * 2 * max(rowBytes, 1_048_576)
    }

    /// Refuses a model that would not fit in this machine's memory; `what` names where its
    /// sizes come from (the flags, or a checkpoint's configuration).
    func checkMemory(slots: Int, window: Int, header: DatasetHeader?, _ what: @autoclosure () -> String) throws {
        try MemoryBudget.check(estimatedBytes(slots: slots, window: window, header: header), what())
    }

    /// "hidden 128, layers 1, embedding 64, 16 slots, window 100, 3 outputs" with flags' names
    /// when `flags`.
    func sizes(slots: Int, window: Int, flags: Bool) -> String {
        let dash = flags ? "--" : ""
        var parts = ["\(dash)hidden \(hidden)", "\(dash)layers \(layers)"]
        if case .tokens(_, let embedding) = input { parts.append("\(dash)embedding \(embedding)") }
        parts += ["\(dash)slots \(slots)", "\(dash)window \(window)"]
        return parts.joined(separator: ", ") + " (\(outputs) output\(outputs == 1 ? "" : "s"))"
    }
}
