import Foundation
import Synchronization
import TokenProxyCore

/// The lifecycle facts `/status` shows that are not in the credential store: the credentials configured now (after
/// reloads) and when each value was first seen. Written by the ``LifecycleController``, read by the admin endpoint.
public final class LifecycleBoard: Sendable {
    /// What the board holds.
    public struct Contents: Sendable {
        /// The credentials of the configuration in force.
        public var credentials: [CredentialConfiguration]
        /// When each credential's current value was first seen, for those with `rotate_every:`.
        public var firstSeen: [String: Date] = [:]
    }

    private let contents: Mutex<Contents>

    init(credentials: [CredentialConfiguration]) {
        contents = Mutex(Contents(credentials: credentials))
    }

    /// The current contents.
    public var current: Contents { contents.withLock { $0 } }

    func update(_ change: (inout Contents) -> Void) {
        contents.withLock { change(&$0) }
    }
}
