import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import RenamerCore

/// Probes delivery URLs with `HEAD`, redirects not followed (SPEC §5).
public struct HTTPDeliveryProber: DeliveryProber {
    let http: HTTPClient

    public init(http: HTTPClient = .outbound) {
        self.http = http
    }

    public func probe(url: String, timeout: Double) async -> ProbeOutcome {
        var request = HTTPClientRequest(url: url)
        request.method = .HEAD
        request.headers.add(name: "User-Agent", value: "asset-renamer")
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            _ = try? await response.body.collect(upTo: 1 << 16)
            return .status(Int(response.status.code))
        } catch {
            return .failed(reason: "\(error)")
        }
    }
}
