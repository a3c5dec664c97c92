import Foundation
import Testing

@testable import IMRCommandLine

/// Issue 17: a page scanned or faxed askew is straightened before OCR, and its table rules are
/// then found and removed.
@Suite struct DeskewTests {
    static let (width, height) = (1700, 2200)

    /// A black-and-white page of 60 lines of "words" (ink runs of 9 pixels, gaps of 5) and,
    /// at row 300, a table rule 1,400 pixels long and 3 high, all turned by `degrees`.
    static func page(skewedBy degrees: Double) -> [UInt8] {
        var pixels = [UInt8](repeating: 255, count: width * height)
        let slope = tan(degrees * .pi / 180)
        func ink(_ x: Int, _ y: Int) {
            let row = Int((Double(y) + (Double(x) - Double(width) / 2) * slope).rounded())
            if row >= 0, row < height { pixels[row * width + x] = 0 }
        }
        for line in 0..<60 {
            let top = 400 + line * 28
            for x in 150..<1550 where (x / 14) % 7 != 3 && x % 14 < 9 {
                for y in top..<(top + 12) { ink(x, y) }
            }
        }
        for x in 150..<1550 { for y in 300..<303 { ink(x, y) } }
        return pixels
    }

    static func inkInBand(_ pixels: [UInt8], rows: Range<Int>) -> Int {
        rows.reduce(0) { sum, y in sum + (0..<width).filter { pixels[y * width + $0] == 0 }.count }
    }

    @Test(arguments: [-2.5, -1.5, -0.6, 0.0, 0.9, 1.5, 3.0])
    func theSkewOfAPageIsFoundWithinATenthOfADegree(degrees: Double) {
        var pixels = Self.page(skewedBy: degrees)
        let found = pixels.withUnsafeMutableBufferPointer {
            Deskew.angle($0, width: Self.width, height: Self.height)
        }
        #expect(abs(found - degrees) <= 0.1, "found \(found) for \(degrees)")
    }

    /// A turn interpolates the grey between the four pixels each falls among: a black-and-white
    /// edge turned has greys along it (a turn by the nearest pixel has none: its strokes go in
    /// steps of a pixel, which Tesseract reads as other letters), and a grey field stays grey.
    @Test func aTurnInterpolatesGreys() {
        let (w, h) = (200, 200)
        var pixels = [UInt8](repeating: 255, count: w * h)
        for y in 0..<h { for x in 0..<100 { pixels[y * w + x] = 0 } }
        for y in 150..<190 { for x in 120..<180 { pixels[y * w + x] = 100 } }
        pixels.withUnsafeMutableBufferPointer { Deskew.rotate($0, width: w, height: h, by: 2) }
        let edge = (20..<130).flatMap { y in (90..<110).map { pixels[y * w + $0] } }
        #expect(edge.contains { $0 > 30 && $0 < 225 }, "no grey along the turned edge")
        #expect(pixels[20 * w + 20] == 0 && pixels[20 * w + 150] == 255)
        #expect((165..<175).allSatisfy { y in (140..<160).allSatisfy { pixels[y * w + $0] == 100 } })
    }

    @Test func aPageAskewIsStraightened_andItsTableRuleIsThenRemoved() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deskew-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("page.pgm").path
        var data = Data("P5\n\(Self.width) \(Self.height)\n255\n".utf8)
        data.append(contentsOf: Self.page(skewedBy: 1.5))
        try data.write(to: URL(fileURLWithPath: file))

        TableRules.remove(inPGM: file, longerThan: 60)

        let out = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)).suffix(Self.width * Self.height))
        // Straight: the first text line's ink lies in its own 12 rows again (give or take a
        // pixel of rounding), where askew it spread over 40.
        let straight = Self.page(skewedBy: 0)
        let lineInk = Self.inkInBand(straight, rows: 400..<412)
        #expect(Self.inkInBand(out, rows: 398..<414) >= lineInk * 9 / 10)
        // The rule is gone (a 1.5-degree rule breaks into runs of 38 pixels, under the limit).
        #expect(Self.inkInBand(out, rows: 280..<320) < 200, "the table rule is still there")
        // And a page that is straight is left as it is.
        var level = Self.page(skewedBy: 0)
        let turned = level.withUnsafeMutableBufferPointer {
            Deskew.straighten($0, width: Self.width, height: Self.height)
        }
        #expect(turned == 0 && level == Self.page(skewedBy: 0))
    }
}
