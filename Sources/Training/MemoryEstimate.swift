import Model
import Storage

extension ModelConfig {
    /// About how many bytes one rank holds to run this model over `slots` x `window` on
    /// `header`'s rows (none without one): parameters, gradients, two optimizer moments and a checkpoint's copy of
    /// the three; the activation arena as `LSTMModel` plans it (without dropout's masks); the token table where
    /// the first layer uses one; the batch; two blocks of rows per slot. In Double, so that absurd sizes cannot
    /// overflow before they are refused: the arena is planned only when the rest fits in this machine's memory,
    /// which bounds every extent it multiplies (and its sum saturates).
    func estimatedBytes(slots: Int, window: Int, header: DatasetHeader?) -> Double {
        let H = Double(hidden), G = 4 * H, B = Double(slots), T = Double(window), K = Double(outputs)
        let I = Double(input.width), layers = Double(self.layers)
        // Input kernels (the first layer's from I inputs), recurrent kernels and biases, the head.
        var parameters: Double = I * G + (layers - 1) * H * G + layers * (H * G + G) + H * K + K
        if case .tokens(let vocabulary, let embedding) = input { parameters += Double(vocabulary) * Double(embedding) }
        let batch: Double = B * T * (I + 3 + K)  // inputs, mask, target mask, targets
        var floats: Double = 7 * parameters + batch
        if case .tokens(let vocabulary, let embedding) = input,
           TokenProjection.pays(vocabulary: vocabulary, slots: slots, window: window) {
            let V = Double(vocabulary)
            floats += 2 * G * V + max(V, G) * Double(embedding)  // the table, its gradient, a transposed copy
        }
        var bytes = 4 * floats
        if let header {
            let rowBytes: Double = Double(header.inputsPerRow + header.targetsPerRow) * 4
            bytes += B * 2 * max(rowBytes, 1_048_576)
        }
        guard bytes <= MemoryBudget.physicalBytes else { return bytes }
        return bytes + 4 * Double(ActivationPlan(self, slots: slots, window: window, dropout: false).floats)
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
