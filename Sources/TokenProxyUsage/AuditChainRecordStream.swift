import Foundation

/// The lines of several files as one stream of parsed records, with one line of lookahead.
struct AuditChainRecordStream {
    /// One line, parsed.
    struct Entry {
        var file: String
        var fileIndex: Int
        var line: Int
        var bytes: Data
        var isTerminated: Bool
        var parsed: AuditChain.ParsedLine
        /// The hash of the line's bytes.
        var hash: String

        /// The record's seq, if it is a record.
        var seq: Int? {
            if case .record(let seq, _) = parsed { return seq }
            return nil
        }
    }

    private let files: [String]
    private var fileIndex = 0
    private var reader: AuditChainFileReader?
    private var lookahead: Entry?
    private let decoder = AuditChain.makeRecordDecoder()

    init(files: [String]) {
        self.files = files
    }

    /// The next line, or `nil` after the last line of the last file.
    mutating func next() throws(AuditChainFileReader.ReadError) -> Entry? {
        if let entry = lookahead {
            lookahead = nil
            return entry
        }
        return try read()
    }

    /// The line ``next()`` will return, without consuming it.
    mutating func peek() throws(AuditChainFileReader.ReadError) -> Entry? {
        if lookahead == nil { lookahead = try read() }
        return lookahead
    }

    /// Reads on to the first record with `seq`, consuming everything before it; `nil` if none follows.
    mutating func find(seq: Int) throws(AuditChainFileReader.ReadError) -> Entry? {
        while let entry = try next() {
            if entry.seq == seq { return entry }
        }
        return nil
    }

    /// Closes the file being read.
    mutating func close() {
        reader?.close()
        reader = nil
    }

    private mutating func read() throws(AuditChainFileReader.ReadError) -> Entry? {
        while fileIndex < files.count {
            if reader == nil { reader = try AuditChainFileReader(path: files[fileIndex]) }
            if let line = try reader?.next() {
                return Entry(
                    file: files[fileIndex], fileIndex: fileIndex, line: line.number, bytes: line.bytes,
                    isTerminated: line.isTerminated, parsed: AuditChain.parse(line.bytes, decoder: decoder),
                    hash: AuditChain.hash(ofLine: line.bytes)
                )
            }
            close()
            fileIndex += 1
        }
        return nil
    }
}
