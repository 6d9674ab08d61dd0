import Foundation
import TokenProxyCore

extension AdminStatus {
    /// The `credentials` of `/status` with their lifecycle: the configuration in force (after reloads), each one's
    /// state (`active`, `revoked`, `expired`, `not yet valid`) and reason, its window, its rotation settings and
    /// when its current value was first seen; with `previous:`, how often the previous value was still needed.
    /// Names, kinds and source references only; never a value.
    static func lifecycleCredentials(
        _ board: LifecycleBoard.Contents, store: CredentialStore, previousUses: [String: CredentialVault.PreviousUse],
        started: Date, now: Date
    ) -> [[String: Any]] {
        board.credentials.map { credential -> [String: Any] in
            let state = store.lifecycle.state(of: credential.name, at: now)
            var entry: [String: Any] = [
                "name": credential.name, "type": credential.kind.typeName, "source": credential.source.description,
                "loaded": store.value(named: credential.name) != nil,
                "age_seconds": Int(now.timeIntervalSince(started)),
                "state": state.label,
            ]
            if let reason = state.reason { entry["reason"] = reason }
            if case .revoked(let revocation) = state { entry["revoked_at"] = RFC3339.string(from: revocation.time) }
            if let expires = credential.expires { entry["expires"] = RFC3339.string(from: expires) }
            if let notBefore = credential.notBefore { entry["not_before"] = RFC3339.string(from: notBefore) }
            if let previous = credential.previous {
                entry["previous"] = previous.description
                entry["previous_loaded"] = store.previousValues[credential.name] != nil
                entry["previous_uses"] = previousUses[credential.name]?.count ?? 0
                if let last = previousUses[credential.name]?.last {
                    entry["previous_last_used"] = RFC3339.string(from: last)
                }
            }
            if let rotateEvery = credential.rotateEvery {
                let interval = LifecycleController.seconds(rotateEvery)
                entry["rotate_every_seconds"] = Int(interval)
                if let seen = board.firstSeen[credential.name] {
                    entry["value_first_seen"] = RFC3339.string(from: seen)
                    entry["value_age_seconds"] = Int(now.timeIntervalSince(seen))
                    entry["rotation_due"] = now.timeIntervalSince(seen) >= interval
                }
            }
            return entry
        }
    }
}
