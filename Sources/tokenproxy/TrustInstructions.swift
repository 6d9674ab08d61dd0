/// The exact commands that make each platform and runtime trust the proxy CA, for `tokenproxy ca trust`.
enum TrustInstructions {
    /// Where `--system` installs the CA on Debian and Ubuntu.
    static let debianAnchor = "/usr/local/share/ca-certificates/tokenproxy.crt"

    /// The instructions as text, with `ca` (the CA alone) and `bundle` (system roots + CA) filled in.
    static func text(ca: String, bundle: String) -> String {
        let ca = ShellQuoting.quoted(ca)
        let bundle = ShellQuoting.quoted(bundle)
        return """
            # Debian / Ubuntu (system store; or: tokenproxy ca trust --system)
            sudo cp \(ca) \(debianAnchor) && sudo update-ca-certificates

            # Fedora / RHEL
            sudo cp \(ca) /etc/pki/ca-trust/source/anchors/tokenproxy.pem && sudo update-ca-trust

            # macOS (System keychain)
            sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain \(ca)

            # Java (the JDK's cacerts; default password changeit)
            keytool -importcert -noprompt -cacerts -storepass changeit -alias tokenproxy -file \(ca)

            # Node.js (adds to its built-in roots)
            export NODE_EXTRA_CA_CERTS=\(ca)

            # Python (requests, and the ssl module / httpx)
            export REQUESTS_CA_BUNDLE=\(bundle) SSL_CERT_FILE=\(bundle)

            # git
            git config --global http.sslCAInfo \(bundle)

            # Docker (in a Dockerfile, for programs in the image; copy the CA next to the Dockerfile first)
            #   COPY tokenproxy.crt /usr/local/share/ca-certificates/tokenproxy.crt
            #   RUN update-ca-certificates
            cp \(ca) ./tokenproxy.crt

            # Every program started by 'tokenproxy run' already trusts it; 'tokenproxy env' prints these variables.
            """
    }
}

/// Quoting for paths printed into shell commands.
enum ShellQuoting {
    /// `text` as is when it has only safe characters, else in single quotes.
    static func quoted(_ text: String) -> String {
        let safe = text.unicodeScalars.allSatisfy { scalar in
            (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                || "/._-+:@,".unicodeScalars.contains(scalar)
        }
        return safe ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
