import Model

/// The optimizer a plan names.
func makeOptimizer(_ plan: TrainingPlan, parameterCount: Int) -> any Optimizer {
    switch plan.recipe.optimizer {
    case .adam: AdamOptimizer(count: parameterCount, learningRate: plan.learningRate)
    case .sgd: SGDOptimizer(count: parameterCount, learningRate: plan.learningRate, momentum: plan.recipe.momentum)
    }
}

extension TrainingPlan.Recipe {
    /// The optimizer's state buffers' names under `/optimizer` in a checkpoint.
    var optimizerStateNames: [String] {
        switch optimizer {
        case .adam: AdamOptimizer.stateNames
        case .sgd: SGDOptimizer.stateNames(momentum: momentum)
        }
    }
}
