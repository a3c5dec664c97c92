import EventStore
import Varlink

/// How the daemon answers a paged list (`Cases.List`, `Deadlines.List`, `Alerts.List`): the
/// page size and the cursor checked, then one page, or with `more` every page from the cursor
/// on, one reply each. Each page is read and turned into JSON on a reader thread (it never
/// holds the cooperative threads that answer status and ping the watchdog), and the next is
/// read only once the client has taken the one before (the server waits while the client's
/// output is full).
struct PagedReplies<Cursor: Sendable> {
    /// The interface's `InvalidValue` error name.
    let invalidValue: String
    /// What the list holds, for messages ("cases").
    let noun: String
    let defaultPage: Int
    let maximumPage: Int
    /// A cursor from its text; nil when the text is not one of this list's.
    let parse: @Sendable (String) -> Cursor?
    /// A cursor's text, as sent in `next`.
    let text: @Sendable (Cursor) -> String

    /// The page size asked for, checked.
    func pageSize(_ limit: Int?) throws -> Int {
        let size = limit ?? defaultPage
        guard (1...maximumPage).contains(size) else {
            throw VarlinkError(
                invalidValue,
                parameters: [
                    "parameter": "limit",
                    "message": .string(
                        "limit \(size) is not a page size: give 1 to \(maximumPage) \(noun) a page, and follow `next` (or call with more) for the rest"
                    ),
                ]
            )
        }
        return size
    }

    /// The cursor given, checked; nil for the first page.
    func cursor(_ text: String?) throws -> Cursor? {
        guard let text else { return nil }
        guard let cursor = parse(text) else {
            throw VarlinkError(
                invalidValue,
                parameters: [
                    "parameter": "after",
                    "message": .string(
                        "'\(text.prefix(160))' is not a cursor of these \(noun): pass the `next` of the previous page unchanged"
                    ),
                ]
            )
        }
        return cursor
    }

    /// Answers from `first` on: `page` reads one page after a cursor on a reader thread and
    /// gives its reply (without `next`) and where the next page starts.
    func answer(
        from first: Cursor?,
        streaming: Bool,
        replier: VarlinkReplier,
        store: EventStore,
        page: @escaping @Sendable (Cursor?) throws -> (reply: [String: JSONValue], next: Cursor?)
    ) async throws -> [String: JSONValue] {
        var cursor = first
        while true {
            let from = cursor
            let (body, next) = try await store.offload { try page(from) }
            var reply = body
            reply["next"] = next.map { .string(text($0)) } ?? .null
            guard streaming, let next else { return reply }
            try await replier.yield(reply)
            cursor = next
        }
    }
}
