/// One update of the parameters from gradients summed over `targets` targets (every rank's, in
/// training): the mean, clipping to a global norm, decoupled weight decay, then the optimizer's
/// step. Training and lstm-bench both update through it.
public struct ParameterUpdate {
    public let optimizer: any Optimizer
    /// Clip the mean gradient to this global norm.
    public let clipNorm: Float?
    public let weightDecay: WeightDecay?

    public init(optimizer: any Optimizer, clipNorm: Float? = nil, weightDecay: WeightDecay? = nil) {
        self.optimizer = optimizer
        self.clipNorm = clipNorm
        self.weightDecay = weightDecay
    }

    /// `gradients` become the mean gradient (clipped); `parameters` take the step.
    public func apply(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeMutableBufferPointer<Float>,
                      targets: Double, learningRate: Float) {
        let scale = Float(1 / targets)
        for k in gradients.indices { gradients[k] *= scale }
        if let clipNorm { clipByGlobalNorm(gradients, maxNorm: clipNorm) }
        optimizer.learningRate = learningRate
        weightDecay?.apply(to: parameters, learningRate: learningRate)
        optimizer.step(parameters: parameters, gradients: UnsafeBufferPointer(gradients))
    }

    /// The same update as the summed gradients land: `landed(i)` returns once `gradients[buckets[i]]`
    /// holds its sum, and the buckets (disjoint, covering every parameter) are updated one by one
    /// as they do: bit-identical to `apply`, since every parameter's arithmetic is the same. Clipping
    /// to a global norm needs every bucket first, so then it waits for all and applies as one.
    public func apply(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeMutableBufferPointer<Float>,
                      targets: Double, learningRate: Float, buckets: [Range<Int>], landed: (Int) throws -> Void) rethrows {
        guard clipNorm == nil else {
            for index in buckets.indices { try landed(index) }
            apply(parameters: parameters, gradients: gradients, targets: targets, learningRate: learningRate)
            return
        }
        let scale = Float(1 / targets)
        optimizer.learningRate = learningRate
        optimizer.beginStep()
        for (index, bucket) in buckets.enumerated() {
            try landed(index)
            for k in bucket { gradients[k] *= scale }
            weightDecay?.apply(to: parameters, learningRate: learningRate, within: bucket)
            optimizer.step(parameters: parameters, gradients: UnsafeBufferPointer(gradients), range: bucket)
        }
    }
}
