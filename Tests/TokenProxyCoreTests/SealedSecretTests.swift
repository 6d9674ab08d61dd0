import Foundation
import Testing

@testable import TokenProxyCore

/// `sealed:` sources: the seal key file and HPKE blobs bound to a credential name.
@Suite struct SealedSecretTests {
    /// A fresh directory under the system temporary directory; the key goes into a `certs` directory inside it
    /// that does not exist yet, as on a first run.
    private final class Scratch: Sendable {
        let root: String
        var certs: String { (root as NSString).appendingPathComponent("certs") }
        var keyPath: String { SealingKey.path(inDirectory: certs) }

        init() throws {
            root = (NSTemporaryDirectory() as NSString).appendingPathComponent("tp-sealed-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }

        deinit {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    private func uniqueCanary() -> String {
        "tpcanary-\(UUID().uuidString)"
    }

    private func holds(_ secret: Secret?, _ expected: String) -> Bool {
        secret?.withUnsafeString { $0 == expected } ?? false
    }

    private func openError(_ key: SealingKey, _ blob: String, name: String) -> SealedSecretError? {
        do {
            _ = try key.open(blob, name: name)
            return nil
        } catch {
            return error
        }
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        stat(path, &info)
        return info.st_mode & 0o777
    }

    // MARK: - Round trip

    @Test func sealedValueOpensUnderItsName() throws {
        let scratch = try Scratch()
        let canary = uniqueCanary()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        let blob = try key.seal(Secret(canary), name: "github")
        let opened = try key.open(blob, name: "github")
        let matches = holds(opened, canary)
        #expect(matches, "the opened value should be the sealed one")
    }

    @Test func blobIsOneLineOfYAMLSafeTextWithoutThePlaintext() throws {
        let scratch = try Scratch()
        let canary = uniqueCanary()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        let blob = try key.seal(Secret(canary), name: "github")
        let leaked = blob.contains(canary) || blob.contains(String(canary.suffix(12)))
        #expect(!leaked, "the blob must not contain the plaintext")
        #expect(blob.hasPrefix("v1."))
        #expect(blob.split(separator: ".").count == 3)
        let safe = blob.allSatisfy { character in
            character.isASCII && (character.isLetter || character.isNumber || "._-".contains(character))
        }
        #expect(safe)
        let parsed = try SealedSecret(parsing: blob)
        #expect(parsed.blob == blob)
        #expect(parsed.description.hasPrefix("v1.") && parsed.description.count == 12)
    }

    @Test func sealingTwiceGivesDifferentBlobs() throws {
        let scratch = try Scratch()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        let first = try key.seal(Secret("same value"), name: "github")
        let second = try key.seal(Secret("same value"), name: "github")
        #expect(first != second)
    }

    // MARK: - Refusals

    @Test func blobDoesNotOpenUnderAnotherName() throws {
        let scratch = try Scratch()
        let canary = uniqueCanary()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        let blob = try key.seal(Secret(canary), name: "github")
        let error = openError(key, blob, name: "stripe")
        let text = error?.description ?? ""
        let leaked = text.contains(canary)
        #expect(!leaked)
        #expect(text.contains("sealed for a different key or credential name"))
        #expect(text.contains(key.publicKeyFingerprint))
        #expect(openError(key, blob, name: "GitHub") != nil)
    }

    @Test func blobDoesNotOpenWithAnotherKey() throws {
        let first = try Scratch()
        let second = try Scratch()
        let canary = uniqueCanary()
        let sealer = try SealingKey.loadOrCreate(directory: first.certs).key
        let other = try SealingKey.loadOrCreate(directory: second.certs).key
        #expect(sealer.publicKeyFingerprint != other.publicKeyFingerprint)
        let blob = try sealer.seal(Secret(canary), name: "github")
        let text = openError(other, blob, name: "github")?.description ?? ""
        let leaked = text.contains(canary)
        #expect(!leaked)
        #expect(text.contains("sealed for a different key or credential name"))
    }

    @Test func alteredBlobsAreRefused() throws {
        let scratch = try Scratch()
        let canary = uniqueCanary()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        let blob = try key.seal(Secret(canary), name: "github")
        let parts = blob.split(separator: ".").map(String.init)

        // One character in the middle of the ciphertext changed.
        var ciphertext = Array(parts[2])
        let middle = ciphertext.count / 2
        ciphertext[middle] = ciphertext[middle] == "A" ? "B" : "A"
        let edited = "\(parts[0]).\(parts[1]).\(String(ciphertext))"
        // The encapsulated key swapped for another valid-looking one.
        let otherKey = try key.seal(Secret("other"), name: "github").split(separator: ".")[1]
        let rekeyed = "\(parts[0]).\(otherKey).\(parts[2])"

        let cases: [(blob: String, message: String)] = [
            (edited, "sealed for a different key or credential name"),
            (rekeyed, "sealed for a different key or credential name"),
            (String(blob.dropLast(4)), "sealed for a different key or credential name"),
            (String(blob.dropLast(parts[2].count - 4)), "not a tokenproxy sealed blob"),
            (String(blob.dropLast(1 + parts[2].count)), "not a tokenproxy sealed blob"),
            ("v2.\(parts[1]).\(parts[2])", "sealed with format v2, which this tokenproxy does not read"),
            ("\(blob).extra", "not a tokenproxy sealed blob"),
            ("v1.\(parts[1]).\(parts[2])=", "not a tokenproxy sealed blob"),
            ("v1.\(parts[1].dropLast(2)).\(parts[2])", "not a tokenproxy sealed blob"),
            ("", "not a tokenproxy sealed blob"),
        ]
        for (index, item) in cases.enumerated() {
            let text = openError(key, item.blob, name: "github")?.description ?? "opened"
            let leaked = text.contains(canary)
            #expect(!leaked, "case \(index) leaked the plaintext")
            #expect(text.contains(item.message), "case \(index): \(text)")
        }
    }

    @Test func pastedRawTokenIsNotQuoted() throws {
        let scratch = try Scratch()
        let canary = uniqueCanary()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        // Someone wrote `sealed:<the token itself>`.
        for text in [canary, "v1.\(canary)", "v1.\(canary).\(canary)", "ghp_\(canary)"] {
            let message = openError(key, text, name: "github")?.description ?? "opened"
            let leaked = message.contains(canary)
            #expect(!leaked, "a malformed blob must not be quoted back")
            #expect(message.contains("not a tokenproxy sealed blob"))
        }
    }

    @Test func emptyValueIsNotSealed() throws {
        let scratch = try Scratch()
        let key = try SealingKey.loadOrCreate(directory: scratch.certs).key
        #expect(throws: SealedSecretError.self) { try key.seal(Secret(""), name: "github") }
        #expect(throws: SealedSecretError.self) { try key.seal(Secret("value"), name: "") }
    }

    // MARK: - The key file

    @Test func keyIsCreatedOwnerOnlyInAnOwnerOnlyDirectory() throws {
        let scratch = try Scratch()
        let (key, created) = try SealingKey.loadOrCreate(directory: scratch.certs)
        #expect(created)
        #expect(key.path == scratch.keyPath)
        #expect(mode(scratch.keyPath) == 0o600)
        #expect(mode(scratch.certs) == 0o700)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.certs)
        #expect(leftovers == [SealingKey.fileName], "no temporary file is left behind")
        let pem = try String(contentsOfFile: scratch.keyPath, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
    }

    @Test func loadOrCreateReusesTheKey() throws {
        let scratch = try Scratch()
        let first = try SealingKey.loadOrCreate(directory: scratch.certs)
        let second = try SealingKey.loadOrCreate(directory: scratch.certs)
        let loaded = try SealingKey.load(directory: scratch.certs)
        #expect(first.created && !second.created)
        #expect(first.key.publicKeyFingerprint == second.key.publicKeyFingerprint)
        #expect(first.key.publicKeyFingerprint == loaded.publicKeyFingerprint)
        #expect(first.key.publicKeyFingerprint.count == 16)
        let isHex = first.key.publicKeyFingerprint.allSatisfy { $0.isHexDigit && !$0.isUppercase }
        #expect(isHex)
        let blob = try first.key.seal(Secret("value"), name: "github")
        let opened = try loaded.open(blob, name: "github")
        #expect(holds(opened, "value"))
    }

    @Test func concurrentCreatorsAgreeOnOneKey() async throws {
        let scratch = try Scratch()
        let directory = scratch.certs
        let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let (key, created) = try SealingKey.loadOrCreate(directory: directory)
                    return (key.publicKeyFingerprint, created)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.0)).count == 1, "every creator must end up with the same key")
        #expect(results.filter(\.1).count == 1, "exactly one creator wrote it")
        #expect(try SealingKey.load(directory: directory).publicKeyFingerprint == results[0].0)
    }

    @Test func groupReadableKeyIsRefused() throws {
        let scratch = try Scratch()
        let created = try SealingKey.loadOrCreate(directory: scratch.certs).key
        chmod(scratch.keyPath, 0o644)
        let path = scratch.keyPath
        let attempts: [() throws -> SealingKey] = [
            { try SealingKey.load(directory: scratch.certs) },
            { try SealingKey.loadOrCreate(directory: scratch.certs).key },
        ]
        for attempt in attempts {
            do {
                _ = try attempt()
                Issue.record("a group-readable key must be refused")
            } catch {
                let expected = "seal key \(path) has mode 644 and is readable by group or others; run chmod 600 \(path)"
                #expect("\(error)" == expected)
            }
        }
        // Refused, not replaced.
        chmod(scratch.keyPath, 0o600)
        #expect(try SealingKey.load(directory: scratch.certs).publicKeyFingerprint == created.publicKeyFingerprint)
    }

    @Test func missingKeyIsReported() throws {
        let scratch = try Scratch()
        let error = #expect(throws: SealedSecretError.self) { try SealingKey.load(directory: scratch.certs) }
        #expect(error?.description.hasPrefix("no seal key at \(scratch.keyPath)") == true)
    }

    @Test func fileThatIsNotAKeyIsRefused() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.certs, withIntermediateDirectories: true)
        try Data("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8)
            .write(to: URL(fileURLWithPath: scratch.keyPath))
        chmod(scratch.keyPath, 0o600)
        let error = #expect(throws: SealedSecretError.self) { try SealingKey.loadOrCreate(directory: scratch.certs) }
        #expect(error?.description == "seal key \(scratch.keyPath) is not an X25519 private key in PKCS#8 PEM form")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func keyFileIsStandardPKCS8() throws {
        let scratch = try Scratch()
        // A key openssl wrote loads, and one we wrote is one openssl reads.
        try FileManager.default.createDirectory(atPath: scratch.certs, withIntermediateDirectories: true)
        #expect(try openssl(["genpkey", "-algorithm", "X25519", "-out", scratch.keyPath]) == 0)
        chmod(scratch.keyPath, 0o600)
        let theirs = try SealingKey.load(directory: scratch.certs)
        let blob = try theirs.seal(Secret("value"), name: "github")
        #expect(holds(try theirs.open(blob, name: "github"), "value"))

        let other = try Scratch()
        _ = try SealingKey.loadOrCreate(directory: other.certs)
        #expect(try openssl(["pkey", "-in", other.keyPath, "-noout"]) == 0)
    }

    private func openssl(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
