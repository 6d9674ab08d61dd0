import Testing

@testable import TokenProxyCore

@Suite("ConfigurationError")
struct ConfigurationErrorTests {
    @Test("description is file:line: message, or file: message without a line")
    func description() {
        #expect(ConfigurationError("bad", at: ConfigLocation(file: "a.yaml", line: 3)).description == "a.yaml:3: bad")
        #expect(ConfigurationError("bad", at: ConfigLocation(file: "a.yaml")).description == "a.yaml: bad")
        #expect(ConfigLocation(file: "x/y.yaml", line: 12).description == "x/y.yaml:12")
    }

    @Test("several errors are one line each, in order")
    func several() {
        let errors = ConfigurationErrors([
            ConfigurationError("first", at: ConfigLocation(file: "a.yaml", line: 1)),
            ConfigurationError("second", at: ConfigLocation(file: "a.yaml", line: 9)),
        ])
        #expect(errors.description == "a.yaml:1: first\na.yaml:9: second")
    }
}
