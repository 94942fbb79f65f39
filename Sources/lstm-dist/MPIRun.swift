import ArgumentParser
import Comm
import Foundation
import Training

/// How a command under mpirun fails, depending on who can see the failure.
extension MPICommunicator {
    /// A failure every rank meets alike (a bad dataset, a bad flag): printed once by rank 0,
    /// then every rank leaves MPI cleanly and exits 1. A `RankFailure` (some ranks failed a check
    /// of their own machine) is printed, with its rank, by the rank that met it.
    func failTogether(_ error: Error) -> ExitCode {
        if let failure = error as? RankFailure {
            if let local = failure.local { printError(size > 1 ? "rank \(rank): \(local)" : local) }
        } else if isRoot {
            printError(error)
        }
        try? finalize()
        return ExitCode.failure
    }

    /// A failure that may be this rank's alone while the others wait in a collective: printed
    /// with the rank, then MPI_Abort takes the whole job down rather than leave it hanging.
    /// A `RankFailure` is known to every rank already: they leave MPI together, its one line
    /// printed by the rank that met it.
    func failAlone(_ error: Error) -> Never {
        if let failure = error as? RankFailure {
            if let local = failure.local { printError(size > 1 ? "rank \(rank): \(local)" : local) }
            try? finalize()
            exit(ExitCode.failure.rawValue)
        }
        printError(size > 1 ? "rank \(rank): \(error)" : error)
        if size == 1 { exit(ExitCode.failure.rawValue) }
        abort(exitCode: ExitCode.failure.rawValue)
    }
}
