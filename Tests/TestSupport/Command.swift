import Foundation

/// What a finished command printed and how it ended.
public struct CommandResult: CustomStringConvertible {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

public struct CommandTimedOut: Error, CustomStringConvertible {
    public let command: [String]
    public let seconds: Double
    public var description: String { "\(command.joined(separator: " ")) did not finish within \(seconds) s" }
}

/// The checkout this test suite belongs to (for data/ and scripts/).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The `lstm-dist` binary under test, run alone or under a real `mpirun`.
public enum LSTMDist {
    /// `$LSTM_DIST_BIN` (scripts/test.sh points it at the release build), else the debug
    /// build beside this test bundle.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["LSTM_DIST_BIN"], !path.isEmpty { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lstm-dist").path
    }

    /// Runs `lstm-dist ARGUMENTS`, under `mpirun -n RANKS` when `ranks` is given, with `environment` added to the
    /// test's (mpirun passes it on to the ranks it starts on this host).
    public static func run(_ arguments: [String], ranks: Int? = nil, environment: [String: String] = [:],
                           timeout: Double = 300) throws -> CommandResult {
        try start(arguments, ranks: ranks, environment: environment).wait(timeout: timeout)
    }

    public static func start(_ arguments: [String], ranks: Int? = nil, environment: [String: String] = [:]) throws
        -> RunningCommand {
        let command = ranks.map { ["mpirun", "-n", "\($0)", binary] } ?? [binary]
        return try RunningCommand(command + arguments, environment: environment)
    }

    /// Runs `lstm-dist ARGUMENTS` across two network-namespace hosts (scripts/two-hosts.sh),
    /// writing the hosts' names to `info` for fault injection.
    public static func startOnTwoHosts(_ arguments: [String], ranksPerHost: Int, info: String, keepalive: Bool = false) throws -> RunningCommand {
        try RunningCommand([repositoryRoot + "/scripts/two-hosts.sh", "--ranks-per-host", "\(ranksPerHost)", "--info", info]
            + (keepalive ? ["--keepalive"] : []) + ["--", binary] + arguments)
    }
}

/// A child process whose output goes to files, so a chatty child never blocks on a full pipe.
public final class RunningCommand {
    public let command: [String]
    private let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    public init(_ command: [String], environment: [String: String] = [:]) throws {
        self.command = command
        let base = NSTemporaryDirectory() + "lstm-dist-command-" + UUID().uuidString
        (stdoutPath, stderrPath) = (base + ".out", base + ".err")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.environment = Self.childEnvironment().merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// What the child has printed on stdout so far.
    public var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Polls until `condition` holds on the output so far, or throws after `timeout` seconds.
    public func waitForOutput(timeout: Double, _ condition: (String) -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition(stdoutSoFar) {
            guard process.isRunning, Date() < deadline else { throw CommandTimedOut(command: command, seconds: timeout) }
            usleep(50_000)
        }
    }

    /// Waits for the child to end; kills it and throws after `timeout` seconds.
    public func wait(timeout: Double) throws -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw CommandTimedOut(command: command, seconds: timeout)
            }
            usleep(20_000)
        }
        return CommandResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        )
    }

    /// The test's environment minus what MPI left in it (a child mpirun launched from a
    /// process that initialised MPI exits 1 silently otherwise), plus what lets mpirun start
    /// here: oversubscription on 2 cores, consent when root, one BLAS thread per rank.
    private static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
        environment["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        if getuid() == 0 {
            environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        }
        environment["OPENBLAS_NUM_THREADS"] = "1"
        return environment
    }
}
