import Crypto
import Foundation
import TokenProxyCore

/// The hash chain of the audit log: how a record is written and hashed, and how rotated files are named.
///
/// Each line of the log is one JSON object, keys sorted: the ``UsageEvent`` fields plus `seq` (1-based, continuing
/// across rotated files) and `prev` (the lowercase hex SHA-256 of the previous record's line, without its newline;
/// 64 zeros for seq 1), written by ``AuditRecordEncoder``. A record's own hash is the SHA-256 of exactly the bytes
/// of its line before the `\n`, so the verifier never re-encodes anything: it hashes the bytes it reads.
///
/// Editing, deleting or reordering a record breaks the link to the record after it. What the chain alone cannot
/// show is a change to its *end*: an edit of the very last record, or whole records cut off at a line boundary.
/// Anchor the end elsewhere (note the `last seq` and `last hash` that `tokenproxy audit verify` prints) when that
/// matters.
public enum AuditChain {
    /// The `prev` of the first record of a chain (seq 1).
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The lowercase hex SHA-256 of `line`, which must not include its newline.
    public static func hash<Bytes: DataProtocol>(ofLine line: Bytes) -> String {
        Hex.lowercase(SHA256.hash(data: line))
    }

    /// As ``hash(ofLine:)``, written as its 64 ASCII hex digits over `hex` (which must hold 64 bytes) rather than
    /// into a new string: the writer hashes every record it writes.
    static func hash(ofLine line: UnsafeRawBufferPointer, into hex: inout [UInt8]) {
        precondition(hex.count == 64, "a SHA-256 hash is 64 hex digits")
        let digest = SHA256.hash(data: line)
        var index = 0
        for byte in digest {
            hex[index] = lowercaseHexDigits[Int(byte >> 4)]
            hex[index + 1] = lowercaseHexDigits[Int(byte & 0x0F)]
            index += 2
        }
    }

    private static let lowercaseHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// What a line is, as far as the chain is concerned.
    enum ParsedLine {
        /// A chained record.
        case record(seq: Int, prev: String)
        /// A JSON object without `seq` and `prev`: a record written before the log was chained.
        case unchained
        /// Anything else: not a JSON object, or a chain field missing or of the wrong type.
        case invalid(reason: String)
    }

    /// Parses `line` (without its newline) as a record: a JSON object with a positive integer `seq` and a `prev` of
    /// 64 hex digits.
    ///
    /// The event fields are left alone: the chain covers them through the hash of the line, and checking them
    /// against today's ``UsageEvent`` would fail the logs written before a field was added.
    ///
    /// - Parameter decoder: from ``makeRecordDecoder()``.
    static func parse(_ line: Data, decoder: JSONDecoder) -> ParsedLine {
        do {
            let decoded = try decoder.decode(DecodedLine.self, from: line)
            switch (decoded.seq, decoded.prev) {
            case (nil, nil):
                return .unchained
            case (let seq?, let prev?):
                guard seq >= 1 else { return .invalid(reason: "seq \(seq) is not a positive number") }
                guard prev.utf8.count == 64, prev.utf8.allSatisfy(isLowercaseHexDigit) else {
                    return .invalid(reason: "prev is not 64 lowercase hex digits")
                }
                return .record(seq: seq, prev: prev)
            default:
                return .invalid(reason: "it has only one of seq and prev")
            }
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            let key = context.codingPath[context.codingPath.count - 1].stringValue
            return .invalid(reason: "\(key) has the wrong type")
        } catch {
            return .invalid(reason: "it is not a JSON object")
        }
    }

    // MARK: Rotated files

    /// The name a full log file is renamed to: `<path>.<UTC yyyyMMdd'T'HHmmss'Z'>-<seq of its last record>`.
    ///
    /// The seq is zero-padded to 12 digits so that a plain `ls` lists the files in chain order too.
    static func rotatedPath(for path: String, lastSeq: Int, at date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let stamp = String(
            format: "%04d%02d%02dT%02d%02d%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0,
            parts.minute ?? 0, parts.second ?? 0
        )
        return "\(path).\(stamp)-\(String(format: "%012d", lastSeq))"
    }

    /// The rotated files of the log at `path` (not the live file itself), oldest first.
    ///
    /// Ordered by the seq in their names, which only grows along the chain, rather than by timestamp: a clock set
    /// back between two rotations must not reorder them. A missing directory means no rotated files.
    public static func rotatedFiles(ofLiveLog path: String) throws -> [String] {
        let directory = (path as NSString).deletingLastPathComponent
        let prefix = (path as NSString).lastPathComponent + "."
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)
        } catch CocoaError.fileReadNoSuchFile {
            return []
        }
        let rotated = names.compactMap { name -> (seq: Int, name: String)? in
            guard name.hasPrefix(prefix), let seq = rotationSeq(String(name.dropFirst(prefix.count))) else {
                return nil
            }
            return (seq, name)
        }
        return rotated.sorted { ($0.seq, $0.name) < ($1.seq, $1.name) }.map { item in
            directory.isEmpty ? item.name : (directory as NSString).appendingPathComponent(item.name)
        }
    }

    /// Every file of the log at `path` in chain order: the rotated files, oldest first, then the live file if it
    /// exists. Pass the result to ``AuditChainVerifier/verify(files:)``.
    public static func files(ofLiveLog path: String) throws -> [String] {
        let rotated = try rotatedFiles(ofLiveLog: path)
        return FileManager.default.fileExists(atPath: path) ? rotated + [path] : rotated
    }

    /// The seq in a rotated file's suffix (`20260101T120000Z-000000000042` → 42), or `nil` if it is not one.
    private static func rotationSeq(_ suffix: String) -> Int? {
        let utf8 = Array(suffix.utf8)
        // yyyyMMdd T HHmmss Z - digits
        guard utf8.count > 17, utf8[8] == UInt8(ascii: "T"), utf8[15] == UInt8(ascii: "Z"),
            utf8[16] == UInt8(ascii: "-")
        else { return nil }
        let digitRanges = [0..<8, 9..<15, 17..<utf8.count]
        for range in digitRanges where !utf8[range].allSatisfy({ (0x30...0x39).contains($0) }) {
            return nil
        }
        return Int(String(decoding: utf8[17...], as: UTF8.self))
    }

    private static func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }

    // MARK: Coding

    /// A decoder for ``parse(_:decoder:)``; one per reader, since decoding state is not shared across threads.
    static func makeRecordDecoder() -> JSONDecoder {
        JSONDecoder()
    }
}

private enum ChainKeys: String, CodingKey {
    case seq, prev
}

/// A line as read back: its chain fields, if present.
private struct DecodedLine: Decodable {
    let seq: Int?
    let prev: String?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: ChainKeys.self)
        seq = try container.decodeIfPresent(Int.self, forKey: .seq)
        prev = try container.decodeIfPresent(String.self, forKey: .prev)
    }
}
