// What several test targets share.
import Foundation

/// SplitMix64: a small generator whose whole state is its seed, so a run can be replayed.
package struct SeededGenerator: RandomNumberGenerator {
    package var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed of a test's random choices: `IMR_PROPERTY_SEED` when set (to replay a run), else
/// a fresh one. Printed either way, with the line that replays it; put it in failure messages.
package func testSeed(_ test: String) -> UInt64 {
    let seed =
        ProcessInfo.processInfo.environment["IMR_PROPERTY_SEED"].flatMap(UInt64.init)
        ?? UInt64.random(in: 0...UInt64.max)
    print("\(test) seed \(seed): replay with IMR_PROPERTY_SEED=\(seed)")
    return seed
}
