import Foundation

/// Shannon entropy in bits per character: how unpredictable a string's characters are.
///
/// A random base62 token of 20+ characters scores about 4; English words, repeated characters and placeholder text
/// like `your-token-here` score well under 3.5, which is what the generic rule's threshold separates.
public enum ShannonEntropy {
    /// The entropy of `bytes`, in bits per byte (0 for an empty sequence).
    public static func bitsPerCharacter(_ bytes: some Collection<UInt8>) -> Double {
        guard !bytes.isEmpty else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        for byte in bytes { counts[Int(byte)] += 1 }
        let total = Double(bytes.count)
        var entropy = 0.0
        for count in counts where count > 0 {
            let probability = Double(count) / total
            entropy -= probability * log2(probability)
        }
        return entropy
    }
}
