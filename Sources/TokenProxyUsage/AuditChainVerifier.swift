import Foundation

/// Checks the hash chain of an audit log and names the first record that breaks it.
///
/// Reads the files in chain order (oldest first; ``AuditChain/files(ofLiveLog:)`` lists a live log's), streaming,
/// so a log of any size needs little memory. For each record it checks that it parses as a record, that its `seq`
/// is one more than the record before it, and that its `prev` is the hash of that record's line; seq 1 must have
/// `prev` ``AuditChain/genesisHash``. Lines written before the log was chained (JSON objects without `seq` and
/// `prev`) may precede the chain at the start of the first file; they are counted, not verified.
///
/// What it can tell apart, and the seq it names:
/// - **edited**: a record whose hash no longer matches the next record's `prev` (that record's seq), or one that
///   no longer parses; a record whose `prev` was changed breaks the links on both sides and is named itself.
/// - **deleted/missing**: a gap in the seqs that no later record fills (the first missing seq).
/// - **reordered**: a seq out of place that turns up later (the first seq not in its place), or one that repeats.
/// - **truncated**: a file whose last line was cut off (the seq of the cut record).
/// - **chain does not continue from the previous file**: a file whose first record does not follow the last
///   record of the file before it (a rotated file deleted, or files from different logs).
///
/// What no hash chain can show on its own: an edit of the *last* record that keeps it a valid record, and whole
/// records removed from the end at a line boundary. Compare the last seq and hash with a copy kept elsewhere to
/// catch those.
public struct AuditChainVerifier: Sendable {
    /// How the chain broke.
    public enum Kind: String, Sendable, CustomStringConvertible {
        case edited
        case deleted
        case reordered
        case truncated
        case discontinuous

        public var description: String {
            switch self {
            case .edited: "edited"
            case .deleted: "deleted/missing"
            case .reordered: "reordered"
            case .truncated: "truncated"
            case .discontinuous: "chain does not continue from the previous file"
            }
        }
    }

    /// What was verified: the records of an intact log, or the intact part before a break.
    public struct Summary: Sendable, Equatable {
        /// Chained records verified.
        public var records: Int
        /// The seq of the first of them, `nil` if there were none.
        public var firstSeq: Int?
        /// The seq of the last of them (0 if there were none).
        public var lastSeq: Int
        /// The hash of the last of them (``AuditChain/genesisHash`` if there were none): with ``lastSeq``, what to
        /// keep elsewhere to detect a later cut or edit at the end.
        public var lastHash: String
        /// Lines before the chain that were written before the log was chained, not verified.
        public var unchainedLines: Int

        /// Creates a summary.
        public init(records: Int, firstSeq: Int?, lastSeq: Int, lastHash: String, unchainedLines: Int) {
            self.records = records
            self.firstSeq = firstSeq
            self.lastSeq = lastSeq
            self.lastHash = lastHash
            self.unchainedLines = unchainedLines
        }
    }

    /// The first place the chain is broken.
    public struct Break: Sendable, Equatable, CustomStringConvertible {
        /// The file holding the broken record (or where it should be).
        public var file: String
        /// The 1-based line in ``file``.
        public var line: Int
        /// The seq of the first record that cannot be verified in its place (see ``AuditChainVerifier``).
        public var seq: Int
        /// How the chain broke.
        public var kind: Kind
        /// What exactly was found, for people.
        public var detail: String
        /// The intact part of the chain before the break.
        public var verified: Summary

        /// `broken at seq S (FILE:LINE): KIND: DETAIL`.
        public var description: String {
            "broken at seq \(seq) (\(file):\(line)): \(kind): \(detail)"
        }
    }

    /// The outcome of a verification.
    public enum Result: Sendable, Equatable {
        /// Every record links to the one before it.
        case intact(Summary)
        /// The first break found.
        case broken(Break)
    }

    /// Why files could not be verified at all (as opposed to a broken chain).
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Whether the first file may start after seq 1, its first record's `prev` taken on trust: for verifying a
    /// rotated file on its own, or a log whose oldest files were archived.
    public var allowsLaterStart: Bool

    /// Creates a verifier.
    ///
    /// - Parameter allowsLaterStart: see ``allowsLaterStart``; by default the chain must start at seq 1, so that
    ///   deleting the oldest records (or files) is detected too.
    public init(allowsLaterStart: Bool = false) {
        self.allowsLaterStart = allowsLaterStart
    }

    /// Verifies the chain through `files`, in chain order (oldest first).
    ///
    /// - Throws: ``ReadError`` when a file cannot be read at all.
    public func verify(files: [String]) throws -> Result {
        var records = AuditChainRecordStream(files: files)
        defer { records.close() }
        do {
            return try verify(&records)
        } catch let error as AuditChainFileReader.ReadError {
            throw ReadError(description: error.description)
        }
    }

    private func verify(_ records: inout AuditChainRecordStream) throws -> Result {
        var summary = Summary(
            records: 0, firstSeq: nil, lastSeq: 0, lastHash: AuditChain.genesisHash, unchainedLines: 0
        )
        var previous: Link?
        // The summary without `previous`, for when the break turns out to be `previous` itself.
        var summaryBeforePrevious = summary

        func broken(
            _ place: some Place, seq: Int, _ kind: Kind, _ detail: String, verified: Summary? = nil
        ) -> Result {
            .broken(
                Break(
                    file: place.file, line: place.line, seq: seq, kind: kind, detail: detail,
                    verified: verified ?? summary
                )
            )
        }

        while let entry = try records.next() {
            let expected = (previous?.seq ?? 0) + 1
            if !entry.isTerminated {
                return broken(
                    entry, seq: expected, .truncated,
                    "line \(entry.line) is cut off (\(entry.bytes.count) bytes, no line break); the chain is intact "
                        + "up to seq \(summary.lastSeq)"
                )
            }
            let seq: Int
            let prev: String
            switch entry.parsed {
            case .unchained where previous == nil && entry.fileIndex == 0:
                summary.unchainedLines += 1
                continue
            case .unchained:
                return broken(entry, seq: expected, .edited, "the record has no seq and prev")
            case .invalid(let reason):
                return broken(entry, seq: expected, .edited, "the line is not a valid record: \(reason)")
            case .record(let recordSeq, let recordPrev):
                seq = recordSeq
                prev = recordPrev
            }
            let expectedPrev = previous?.hash ?? AuditChain.genesisHash
            let crossesFiles = previous.map { $0.fileIndex != entry.fileIndex } ?? false

            if seq == expected {
                guard prev != expectedPrev else {
                    summaryBeforePrevious = summary
                    previous = accept(entry, seq: seq, into: &summary)
                    continue
                }
                guard let previous else {
                    return broken(entry, seq: seq, .edited, "seq 1 does not have the prev of a chain's first record")
                }
                if crossesFiles {
                    return broken(
                        entry, seq: seq, .discontinuous,
                        "its prev is not the hash of seq \(previous.seq), the last record of \(previous.file) "
                            + "(that record was edited, or the files are not one log)"
                    )
                }
                // If `entry` still links to the record after it, only `previous` changed. If that link is broken
                // too, `entry` itself was changed (its prev, at least).
                if let next = try records.peek(), case .record(let nextSeq, let nextPrev) = next.parsed,
                    nextSeq == seq + 1, nextPrev != entry.hash
                {
                    return broken(
                        entry, seq: seq, .edited,
                        "neither does its prev match the hash of seq \(previous.seq), nor its hash the prev of seq "
                            + "\(nextSeq)"
                    )
                }
                return broken(
                    previous, seq: previous.seq, .edited,
                    "its hash does not match the prev of seq \(seq) (\(entry.file):\(entry.line))",
                    verified: summaryBeforePrevious
                )
            }

            if seq > expected {
                if prev == expectedPrev {
                    // The link is intact, so this is the record that should be `expected`, renumbered.
                    return broken(
                        entry, seq: expected, .edited,
                        "its seq was changed to \(seq), but it links to "
                            + (previous.map { "seq \($0.seq)" } ?? "the start of the chain")
                    )
                }
                if previous == nil && allowsLaterStart {
                    summaryBeforePrevious = summary
                    previous = accept(entry, seq: seq, into: &summary)
                    continue
                }
                if let found = try records.find(seq: expected) {
                    return broken(
                        entry, seq: expected, .reordered,
                        "seq \(seq) is where seq \(expected) belongs; seq \(expected) is at \(found.file):\(found.line)"
                    )
                }
                let missing = expected == seq - 1 ? "record \(expected) is" : "records \(expected)…\(seq - 1) are"
                guard let previous else {
                    return broken(
                        entry, seq: expected, .deleted,
                        "the chain starts at seq \(seq): \(missing) missing (an older file deleted? "
                            + "verify with the oldest files, or allow a later start)"
                    )
                }
                if crossesFiles {
                    return broken(
                        entry, seq: expected, .discontinuous,
                        "\(previous.file) ends at seq \(previous.seq) but \(entry.file) starts at seq \(seq): "
                            + "\(missing) missing (a rotated file deleted?)"
                    )
                }
                return broken(
                    entry, seq: expected, .deleted, "\(missing) missing: seq \(seq) follows seq \(previous.seq)"
                )
            }

            return broken(
                entry, seq: expected, .reordered,
                "seq \(seq) appears again after seq \(expected - 1) (a record duplicated or moved back)"
            )
        }
        return .intact(summary)
    }

    /// Counts `entry` as verified and returns it as the link the next record must follow.
    private func accept(_ entry: AuditChainRecordStream.Entry, seq: Int, into summary: inout Summary) -> Link {
        summary.records += 1
        if summary.firstSeq == nil { summary.firstSeq = seq }
        summary.lastSeq = seq
        summary.lastHash = entry.hash
        return Link(file: entry.file, fileIndex: entry.fileIndex, line: entry.line, seq: seq, hash: entry.hash)
    }
}

/// Where a line is, for a ``AuditChainVerifier/Break``.
private protocol Place {
    var file: String { get }
    var line: Int { get }
}

extension AuditChainRecordStream.Entry: Place {}

/// The last record verified: what the next one must link to.
private struct Link: Place {
    var file: String
    var fileIndex: Int
    var line: Int
    var seq: Int
    var hash: String
}
