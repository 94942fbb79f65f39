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
}
