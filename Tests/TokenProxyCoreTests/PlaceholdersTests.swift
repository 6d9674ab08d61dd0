import Foundation
import Testing
import TokenProxyCore

@Suite("Placeholders")
struct PlaceholdersTests {
    let table = Placeholders(credentials: [("github", nil), ("stripe", "ph_live_stripe_123")])
    let secret = Secret("tpcanary-value")

    @Test("default and custom placeholders are found, also percent-encoded and inside Basic")
    func detection() {
        #expect(table.credentialsMentioned(in: "Bearer {{tokenproxy:github}}") == ["github"])
        #expect(table.credentialsMentioned(in: "key=ph_live_stripe_123") == ["stripe"])
        #expect(table.credentialsMentioned(in: "k=%7B%7Btokenproxy%3Agithub%7D%7D") == ["github"])
        let basic = "Basic " + Data("user:{{tokenproxy:github}}".utf8).base64EncodedString()
        #expect(table.credentialsMentioned(in: basic) == ["github"])
        #expect(table.credentialsMentioned(in: "Bearer nothing-here").isEmpty)
    }

    @Test("replacement in a header, a Basic header, a query and a body touches only the named credential")
    func replacement() {
        let header = table.replacingInHeader(
            "Bearer {{tokenproxy:github}} ph_live_stripe_123", credential: "github", with: secret
        )
        #expect(header == "Bearer tpcanary-value ph_live_stripe_123")
        let basic = table.replacingInHeader(
            "Basic " + Data("user:{{tokenproxy:github}}".utf8).base64EncodedString(), credential: "github", with: secret
        )
        #expect(basic == "Basic " + Data("user:tpcanary-value".utf8).base64EncodedString())
        let query = table.replacingInQuery("a=1&k=%7B%7Btokenproxy%3Agithub%7D%7D&b", credential: "github", with: secret)
        #expect(query == "a=1&k=tpcanary-value&b")
        #expect(table.replacing(in: "x={{tokenproxy:github}}", credential: "stripe", with: secret) == "x={{tokenproxy:github}}")
    }

    @Test("a query parameter is set once, replacing every client value")
    func queryParameter() {
        #expect(QueryEncoding.replacingParameter("key", with: "a b&c", in: "key=1&x=2&key=3") == "x=2&key=a%20b%26c")
        #expect(QueryEncoding.replacingParameter("key", with: "v", in: "") == "key=v")
    }
}
