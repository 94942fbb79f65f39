import ArgumentParser

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pack", abstract: "(in progress)")
    func run() throws { throw ValidationError("`pack` is not built yet") }
}
