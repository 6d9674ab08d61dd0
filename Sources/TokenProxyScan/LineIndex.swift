/// Maps byte offsets of a text to 1-based line numbers.
struct LineIndex {
    /// The offset of every `\n`, ascending.
    private let newlines: [Int]

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        var newlines: [Int] = []
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            newlines.append(index)
        }
        self.newlines = newlines
    }

    /// The line holding the byte at `offset`.
    func line(of offset: Int) -> Int {
        var low = 0
        var high = newlines.count
        // The number of newlines before `offset`, by binary search.
        while low < high {
            let middle = (low + high) / 2
            if newlines[middle] < offset { low = middle + 1 } else { high = middle }
        }
        return low + 1
    }
}
