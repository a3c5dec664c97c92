// Test helper for the crash-safety test: appends batches to a few streams forever and
// prints "ACK <id> <id> ..." once each batch is committed. The test kills it with SIGKILL.
import EventStore
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: imr-store-crashloop DATABASE RUN-LABEL\n".utf8))
    exit(64)
}
let store = try EventStore(path: arguments[1])
var batch = 0
while true {
    batch += 1
    let size = batch % 3 + 1
    let key = "\(arguments[2])-\(batch)"
    let events = (0..<size).map { i in
        NewEvent(
            type: "CrashLoop",
            payload: Array(#"{"batch":"\#(key)","size":"\#(size)","i":"\#(i)"}"#.utf8),
            metadata: EventMetadata(actor: "crashloop")
        )
    }
    let stream = "stream-\(batch % 5)"
    let current = try store.version(of: stream)
    try store.append(to: stream, expected: .exact(current), events: events)
    // Unbuffered: the line is out of the process before the next append starts.
    FileHandle.standardOutput.write(
        Data(("ACK " + events.map { $0.id.lowercasedText }.joined(separator: " ") + "\n").utf8)
    )
}
