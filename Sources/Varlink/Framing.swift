import NIOCore

/// Splits the byte stream into NUL-terminated messages, refusing any message larger than
/// `maximumMessageSize` before it is buffered whole.
struct NULFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maximumMessageSize: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let end = buffer.readableBytesView.firstIndex(of: 0) {
            let length = end - buffer.readerIndex
            guard length <= maximumMessageSize else { throw VarlinkFramingError.messageTooLarge(limit: maximumMessageSize) }
            let frame = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(wrapInboundOut(frame))
            return .continue
        }
        guard buffer.readableBytes <= maximumMessageSize else {
            throw VarlinkFramingError.messageTooLarge(limit: maximumMessageSize)
        }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Why a connection was closed by the protocol layer.
public enum VarlinkFramingError: Error, Hashable, CustomStringConvertible {
    case messageTooLarge(limit: Int)
    case invalidJSON(String)

    public var description: String {
        switch self {
        case .messageTooLarge(let limit): "a message exceeded the limit of \(limit) bytes; the connection was closed"
        case .invalidJSON(let detail): "a message was not a valid Varlink call (\(detail)); the connection was closed"
        }
    }
}
