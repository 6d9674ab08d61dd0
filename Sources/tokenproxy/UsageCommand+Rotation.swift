import Foundation
import TokenProxyUsage

extension UsageCommand {
    /// Under the table, one line per credential whose previous value (`previous:`) was still sent: the sign that
    /// some origin has not accepted the new token yet, so the rotation window cannot close.
    static func printPreviousValueUses(reader: UsageStoreReader?, since: Date?, now: Date) throws {
        let uses = try reader?.previousValueUses(since: since) ?? [:]
        for (credential, use) in uses.sorted(by: { $0.key < $1.key }) {
            print(
                "\(credential): \(use.requests) request\(use.requests == 1 ? "" : "s") sent with the previous value, "
                    + "last \(UsageStoreTime.relative(use.lastUsed, now: now))"
            )
        }
    }
}
