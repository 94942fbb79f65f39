/// What a backward pass tells its caller as its work completes, so that the caller can start the
/// gradients' sum across ranks while backward still runs (Training and Comm do; the model knows
/// nothing of how). Every call comes in a fixed order that depends only on the model.
public protocol GradientReadiness: AnyObject {
    /// Forward ended: the window's loss sum and counts are final. Called once, before any backward work.
    func forwardEnded(_ result: WindowResult)
    /// `gradients[range]` is final. The ranges are `LSTMModel.gradientBuckets`, each once, in that order.
    func ready(_ range: Range<Int>)
    /// Between pieces of backward work (timesteps, layers): a chance to move what is in flight along.
    func progress()
}
