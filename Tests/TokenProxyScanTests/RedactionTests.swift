import Foundation
import Testing
import TokenProxyCore
import TokenProxyScan

/// No output form of a scan holds a value: text, JSON and SARIF carry previews only.
@Suite("redaction")
struct RedactionTests {
    @Test("previews show at most the first 4 characters and the length; configured tokens show only the length")
    func previews() {
        #expect(Redaction.preview(of: Array("ghp_abcdefgh".utf8)) == "ghp_…(12 chars)")
        #expect(Redaction.lengthOnly(of: Array("abcdefgh".utf8)) == "(8 chars)")
        #expect(Redaction.preview(of: Array("é-token-value".utf8)).hasPrefix("…"))
    }

    @Test("text, JSON and SARIF reports of every kind of finding never contain a value or its secret part")
    func reportsHoldNoValue() throws {
        let configured = "tpcanary-" + FakeTokens.random(32)
        let values = [
            FakeTokens.github(), FakeTokens.githubFineGrained(), FakeTokens.slack(), FakeTokens.stripe(),
            FakeTokens.openAI(), FakeTokens.anthropic(),
        ]
        let keyID = FakeTokens.awsKeyID()
        let awsSecret = FakeTokens.awsSecret()
        let generic = FakeTokens.random(32)  // not 40: near the AWS key id that would be its secret key
        let pem = FakeTokens.privateKeyBlock()
        var text = values.map { "value: \($0)\n" }.joined()
        text += "aws_access_key_id=\(keyID)\naws_secret_access_key=\(awsSecret)\n"
        text += "SERVICE_TOKEN=\"\(generic)\"\nconfigured: \(configured)\n" + pem
        let directory = try TemporaryDirectory()
        try directory.write(text, to: "planted.txt")
        let scanner = ContentScanner(
            configured: ConfiguredTokens(values: [(name: "canary", secret: Secret(configured))])
        )
        let result = try SecretScanner(scanner: scanner).run(.files([directory.path]))
        #expect(result.findings.count == values.count + 5)
        #expect(Set(result.findings.map(\.kind)).count == FindingKind.allCases.count, "\(result.findings.map(\.kind))")

        let outputs = [
            ScanReport.text(result), try ScanReport.json(result), try SARIFReport.document(result, version: "test"),
            ScanReport.summary(result),
        ]
        // Everything after the shown 4-character prefix is secret: none of it may appear.
        let secretParts = (values + [keyID, awsSecret, generic]).map { String($0.dropFirst(4)) } + [configured]
            + pem.split(separator: "\n").dropFirst().dropLast().map(String.init)
        for output in outputs {
            for part in secretParts {
                #expect(!output.contains(part), "a value appears in a report")
            }
        }
        #expect(outputs[0].contains("configured-token credential canary (\(configured.utf8.count) chars)"))
    }
}

/// A scratch directory removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenproxy-scan-tests-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    @discardableResult
    func write(_ text: String, to relativePath: String) throws -> String {
        let target = path + "/" + relativePath
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true
        )
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        return target
    }
}
