import Model

/// The optimizer a configuration names, behind one update call.
enum Optimizer {
    case adam(AdamOptimizer)
    case sgd(SGDOptimizer)

    init(_ config: TrainingConfig, parameterCount: Int) {
        switch config.optimizer {
        case .adam: self = .adam(AdamOptimizer(count: parameterCount, learningRate: config.learningRate!))
        case .sgd: self = .sgd(SGDOptimizer(count: parameterCount, learningRate: config.learningRate!, momentum: config.momentum))
        }
    }

    mutating func update(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        switch self {
        case .adam(var adam):
            adam.step(parameters: parameters, gradients: gradients)
            self = .adam(adam)
        case .sgd(var sgd):
            sgd.step(parameters: parameters, gradients: gradients)
            self = .sgd(sgd)
        }
    }
}
