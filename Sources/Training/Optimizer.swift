import Model

/// The optimizer a resolved configuration names.
func makeOptimizer(_ config: TrainingConfig, parameterCount: Int) -> any Optimizer {
    switch config.shape.optimizer! {
    case .adam: AdamOptimizer(count: parameterCount, learningRate: config.learningRate!)
    case .sgd: SGDOptimizer(count: parameterCount, learningRate: config.learningRate!, momentum: config.shape.momentum!)
    }
}
