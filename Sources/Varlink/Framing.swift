import NIOCore

/// Splits a byte stream into NUL-terminated messages. It remembers how far it has looked for
/// the terminator, so each byte is scanned once however the message arrives (a 1 MiB message
/// sent a byte at a time costs 1 MiB of scanning, not half a terabyte), and refuses a message
/// larger than `maximumMessageSize` as soon as that many bytes arrived without a terminator.
package struct NULFramer {
    package let maximumMessageSize: Int
    private(set) var buffer: ByteBuffer
    /// Bytes after the reader index already known to hold no NUL.
    private var scanned = 0

    package init(maximumMessageSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.maximumMessageSize = maximumMessageSize
        self.buffer = allocator.buffer(capacity: 0)
    }

    /// Bytes received and not yet handed out as messages.
    package var bufferedBytes: Int { buffer.readableBytes }

    /// True when the bytes buffered end in an unfinished message (nothing complete waits).
    package var holdsPartialMessage: Bool { buffer.readableBytes > 0 && scanned == buffer.readableBytes }

    package mutating func append(_ bytes: inout ByteBuffer) {
        if buffer.readableBytes == 0 {
            // Reuse the storage when empty instead of growing it forever.
            buffer.clear()
        } else if buffer.readerIndex > 64 * 1024 && buffer.readerIndex > buffer.readableBytes {
            buffer.discardReadBytes()
        }
        buffer.writeBuffer(&bytes)
    }

    /// The next complete message without its NUL, or nil when none is complete yet.
    /// Throws when the unfinished message is already over the limit.
    package mutating func next() throws(VarlinkFramingError) -> ByteBuffer? {
        let view = buffer.readableBytesView
        let from = view.startIndex + scanned
        if let end = view[from...].firstIndex(of: 0) {
            let length = end - view.startIndex
            guard length <= maximumMessageSize else { throw .messageTooLarge(limit: maximumMessageSize) }
            let frame = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            scanned = 0
            return frame
        }
        scanned = view.count
        guard view.count <= maximumMessageSize else { throw .messageTooLarge(limit: maximumMessageSize) }
        return nil
    }

    /// Forgets everything buffered; returns how many bytes that was.
    @discardableResult
    package mutating func discardAll() -> Int {
        let count = buffer.readableBytes
        buffer = ByteBufferAllocator().buffer(capacity: 0)
        scanned = 0
        return count
    }
}

/// Why a connection was closed by the protocol layer.
package enum VarlinkFramingError: Error, Hashable, CustomStringConvertible {
    case messageTooLarge(limit: Int)
    case invalidJSON(String)

    package var description: String {
        switch self {
        case .messageTooLarge(let limit): "a message exceeded the limit of \(limit) bytes; the connection was closed"
        case .invalidJSON(let detail): "a message was not a valid Varlink call (\(detail)); the connection was closed"
        }
    }
}
