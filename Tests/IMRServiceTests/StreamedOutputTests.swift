import Foundation
import IMRCommandLine
import Testing
import Varlink

/// `imr-ctl history --json` prints its array a page at a time: the text must be what printing
/// the whole array at once gives, for any number of elements.
@Suite struct StreamedOutputTests {
    @Test(arguments: [0, 1, 3])
    func aJSONArrayPrintedAnElementAtATimeIsTheWholeArraysText(_ count: Int) {
        let elements: [JSONValue] = (0..<count).map { i in
            .object([
                "version": .int(Int64(i)), "type": "CaseOpened",
                "payload": .object(["lines": "one\ntwo", "list": [1, 2]]),
                "empty": .array([]), "slash": "a/b",
            ])
        }
        var array = Output.StreamedArray()
        let streamed = elements.map { array.add($0) }.joined() + array.finish()
        #expect(streamed == Output.prettyJSON(.array(elements)) + "\n")
    }
}
