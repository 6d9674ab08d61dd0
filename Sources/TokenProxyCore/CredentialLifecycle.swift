import Foundation

/// Whether each credential may be used right now: its validity window (`not_before:`/`expires:`) and the operator's
/// revocations.
///
/// Part of every ``CredentialStore`` snapshot, so a request decides with the same view of rules, values and
/// revocations from its start to its end.
public struct CredentialLifecycle: Sendable {
    /// A credential's validity window from the configuration.
    public struct Window: Sendable, Hashable {
        /// Not usable before this instant.
        public var notBefore: Date?
        /// Not usable from this instant on.
        public var expires: Date?

        /// Creates a window; `nil` leaves that side open.
        public init(notBefore: Date?, expires: Date?) {
            self.notBefore = notBefore
            self.expires = expires
        }
    }

    /// Why a credential is out of service, if it is.
    public enum State: Sendable, Hashable {
        /// Usable.
        case active
        /// Revoked by an operator (`tokenproxy revoke`), with the reason they gave.
        case revoked(Revocation)
        /// Past its `expires:`.
        case expired(Date)
        /// Before its `not_before:`.
        case notYetValid(Date)

        /// The word shown in `/status` and `tokenproxy status`.
        public var label: String {
            switch self {
            case .active: "active"
            case .revoked: "revoked"
            case .expired: "expired"
            case .notYetValid: "not yet valid"
            }
        }

        /// The reason given to a refused client and in records: the operator's, or "expired" / "not yet valid".
        public var reason: String? {
            switch self {
            case .active: nil
            case .revoked(let revocation): revocation.reason ?? "no reason given"
            case .expired: "expired"
            case .notYetValid: "not yet valid"
            }
        }
    }

    /// Validity windows by credential name (only credentials that have one).
    public var windows: [String: Window]
    /// Revocations in force, by credential name.
    public var revocations: [String: Revocation]

    /// A lifecycle with no windows and no revocations.
    public init() {
        windows = [:]
        revocations = [:]
    }

    /// The windows of `credentials`, with `revocations` in force.
    public init(credentials: [CredentialConfiguration], revocations: [String: Revocation] = [:]) {
        var windows: [String: Window] = [:]
        for credential in credentials where credential.expires != nil || credential.notBefore != nil {
            windows[credential.name] = Window(notBefore: credential.notBefore, expires: credential.expires)
        }
        self.windows = windows
        self.revocations = revocations
    }

    /// The state of `name` at `now`. A revocation outranks the window: it is the operator's explicit word.
    public func state(of name: String, at now: Date) -> State {
        if let revocation = revocations[name] { return .revoked(revocation) }
        if let window = windows[name] {
            if let expires = window.expires, now >= expires { return .expired(expires) }
            if let notBefore = window.notBefore, now < notBefore { return .notYetValid(notBefore) }
        }
        return .active
    }

    /// Why a request that would use `name` must be refused at `now`, or `nil` when it may proceed.
    ///
    /// Names the credential (never its value) and the reason, for the 403 body and the audit record.
    public func refusal(for name: String, at now: Date) -> String? {
        let state = state(of: name, at: now)
        guard let reason = state.reason else { return nil }
        return "credential revoked: '\(name)' (\(reason))"
    }
}

/// An operator's revocation of one credential.
public struct Revocation: Sendable, Hashable, Codable {
    /// What the operator said (`--reason`), if anything.
    public var reason: String?
    /// When it was revoked.
    public var time: Date

    /// Creates a revocation.
    public init(reason: String?, time: Date) {
        self.reason = reason
        self.time = time
    }
}
