import Foundation

/// Straightens a page scanned or faxed a little askew, before OCR: the angle is the one at
/// which the page's ink, projected onto rows, falls into the sharpest lines (text lines and
/// table rules are horizontal on the letter), searched within ±4° coarse to fine; a page more
/// than 1° off is turned back by that angle, its grey levels interpolated (bilinear). Works on
/// a grey page, one byte a pixel (0 black, 255 paper); ink is what is darker than a threshold.
enum Deskew {
    /// The largest skew looked for, in degrees: a page fed further askew is left as it is.
    static let limit = 4.0
    /// A smaller skew is left to Tesseract's own line finding, which reads it as well
    /// (BENCHMARKS.md, issue 17).
    static let threshold = 1.0

    /// The page's skew in degrees (positive: lines fall to the right), or 0 when the page has
    /// too little ink to tell. Ink: pixels darker than `inkBelow` (1: black on a black-and-white
    /// page).
    static func angle(
        _ pixels: UnsafeMutableBufferPointer<UInt8>,
        width: Int,
        height: Int,
        inkBelow: UInt8 = 1
    ) -> Double {
        // Ink of every other row, every fourth column: enough to find lines.
        var xs: [Int32] = []
        var ys: [Int32] = []
        var y = 0
        while y < height {
            let row = y * width
            var x = 0
            while x < width {
                if pixels[row + x] < inkBelow {
                    xs.append(Int32(x))
                    ys.append(Int32(y))
                }
                x += 4
            }
            y += 2
        }
        guard xs.count >= 300 else { return 0 }
        let centre = Double(width) / 2
        let offset = Int(Double(width) * 0.04) + 2
        var bins = [Int32](repeating: 0, count: height / 2 + 2 * offset + 2)
        func sharpness(_ degrees: Double) -> Double {
            let slope = tan(degrees * .pi / 180)
            for index in bins.indices { bins[index] = 0 }
            for index in xs.indices {
                // The row the pixel would be on with the page turned back by `degrees`, in bins of
                // two rows as the rows are sampled (bins of one would favour 0 degrees).
                let row = (Double(ys[index]) - (Double(xs[index]) - centre) * slope) / 2
                let bin = Int(row.rounded(.down)) + offset
                if bin >= 0, bin < bins.count { bins[bin] += 1 }
            }
            var sum = 0.0
            for count in bins { sum += Double(count) * Double(count) }
            return sum
        }
        func best(in range: ClosedRange<Double>, step: Double) -> Double {
            var angle = range.lowerBound
            var found = (angle: 0.0, score: -1.0)
            while angle <= range.upperBound + 1e-9 {
                let score = sharpness(angle)
                if score > found.score { found = (angle, score) }
                angle += step
            }
            return found.angle
        }
        let coarse = best(in: -limit...limit, step: 0.4)
        let fine = best(in: (coarse - 0.4)...(coarse + 0.4), step: 0.1)
        return best(in: (fine - 0.1)...(fine + 0.1), step: 0.025)
    }

    /// Turns the page back by `degrees` about its centre. Each pixel is interpolated between the
    /// four it falls among (bilinear): a turn by the nearest pixel gives strokes steps of a pixel
    /// that Tesseract reads as other letters (a fax's "#40" read "#10" after a 1° turn); what comes
    /// in from outside the page is paper.
    static func rotate(_ pixels: UnsafeMutableBufferPointer<UInt8>, width: Int, height: Int, by degrees: Double) {
        let source = [UInt8](pixels)
        let (sine, cosine) = (sin(degrees * .pi / 180), cos(degrees * .pi / 180))
        let (cx, cy) = (Double(width) / 2, Double(height) / 2)
        source.withUnsafeBufferPointer { source in
            for y in 0..<height {
                let dy = Double(y) - cy
                // Along a row of the result the source point moves by (cos, sin) a pixel.
                var sx = cx + (0 - cx) * cosine - dy * sine
                var sy = cy + (0 - cx) * sine + dy * cosine
                let row = y * width
                for x in 0..<width {
                    let (fx, fy) = (sx.rounded(.down), sy.rounded(.down))
                    let (ix, iy) = (Int(fx), Int(fy))
                    if ix >= 0, iy >= 0, ix + 1 < width, iy + 1 < height {
                        let (ax, ay) = (sx - fx, sy - fy)
                        let i = iy * width + ix
                        let top = Double(source[i]) * (1 - ax) + Double(source[i + 1]) * ax
                        let bottom = Double(source[i + width]) * (1 - ax) + Double(source[i + width + 1]) * ax
                        pixels[row + x] = UInt8((top * (1 - ay) + bottom * ay).rounded())
                    } else {
                        pixels[row + x] = 255
                    }
                    sx += cosine
                    sy += sine
                }
            }
        }
    }

    /// Straightens the page if it is askew; returns the angle it was turned back by (0 if not).
    /// Ink: pixels darker than `inkBelow`.
    @discardableResult
    static func straighten(
        _ pixels: UnsafeMutableBufferPointer<UInt8>,
        width: Int,
        height: Int,
        inkBelow: UInt8 = 1
    ) -> Double {
        let skew = angle(pixels, width: width, height: height, inkBelow: inkBelow)
        guard abs(skew) > threshold, abs(skew) < limit else { return 0 }
        rotate(pixels, width: width, height: height, by: skew)
        return skew
    }
}
