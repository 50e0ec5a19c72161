import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

struct Rename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a rename to a running daemon; with --wait, poll until it ends and print the final job.",
        discussion:
            "Exits 0 when the rename was accepted (with --wait: completed), 1 when it was refused, failed or was cancelled, 3 when --wait timed out."
    )

    @Argument(help: "Public ID to rename.") var from: String
    @Argument(help: "New public ID.") var to: String
    @OptionGroup var daemon: DaemonClient
    @Option(help: "Cloud name as configured in the daemon (default: its default cloud).") var cloud: String?
    @Option(help: "image, video or raw.") var resourceType: String?
    @Option(help: "Delivery type of the source: upload, private or authenticated.") var type: String?
    @Option(help: "Delivery type of the target.") var toType: String?
    @Flag(help: "Replace an existing asset at the target.") var overwrite = false
    @Flag(inversion: .prefixedNo, help: "Invalidate CDN caches and confirm it before completing.") var invalidate = true
    @Option(help: "Callback URL (must be allowed for the client).") var callbackURL: String?
    @Option(help: "Free text echoed back in the job.") var clientReference: String?

    func run() async throws {
        var body: [String: Any] = ["from_public_id": from, "to_public_id": to, "invalidate": invalidate, "overwrite": overwrite]
        body["cloud"] = cloud
        body["resource_type"] = resourceType
        body["type"] = type
        body["to_type"] = toType
        body["callback_url"] = callbackURL
        body["client_reference"] = clientReference
        try await daemon.submit("/v1/renames", body)
    }
}

/// `move`: an asset's Media Library folder (and name) in a dynamic-folder cloud, SPEC §11.
struct Move: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move an asset to another folder (dynamic folders: its URL does not change); with --wait, poll until it ends.",
        discussion:
            "Submits POST /v1/asset-updates. Exits 0 when accepted (with --wait: completed), 1 when refused, failed or cancelled, 3 when --wait timed out."
    )

    @Argument(help: "Public ID of the asset.") var publicID: String
    @Argument(help: "Its new asset folder (\"\" for the root); leave out with --display-name alone.") var folder: String?
    @Option(help: "New display name.") var displayName: String?
    @OptionGroup var daemon: DaemonClient
    @Option(help: "Cloud name as configured in the daemon (default: its default cloud).") var cloud: String?
    @Option(help: "image, video or raw.") var resourceType: String?
    @Option(help: "Delivery type: upload, private or authenticated.") var type: String?
    @Option(help: "Callback URL (must be allowed for the client).") var callbackURL: String?
    @Option(help: "Free text echoed back in the job.") var clientReference: String?

    func validate() throws {
        if folder == nil && displayName == nil { throw ValidationError("give a folder, --display-name, or both") }
    }

    func run() async throws {
        var body: [String: Any] = ["public_id": publicID]
        body["asset_folder"] = folder
        body["display_name"] = displayName
        body["cloud"] = cloud
        body["resource_type"] = resourceType
        body["type"] = type
        body["callback_url"] = callbackURL
        body["client_reference"] = clientReference
        try await daemon.submit("/v1/asset-updates", body)
    }
}

/// `folder-rename`: a folder and everything under it, SPEC §11.
struct FolderRename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folder-rename",
        abstract: "Rename a folder (fixed folders: every asset under it); with --wait, print progress until it ends.",
        discussion:
            "Submits POST /v1/folder-renames. Exits 0 when accepted (with --wait: completed), 1 when refused, failed or cancelled, 3 when --wait timed out."
    )

    @Argument(help: "The folder to rename.") var from: String
    @Argument(help: "Its new name.") var to: String
    @Flag(help: "Change nothing: report how many items, which targets exist, the first 100 items.") var dryRun = false
    @OptionGroup var daemon: DaemonClient
    @Option(help: "Cloud name as configured in the daemon (default: its default cloud).") var cloud: String?
    @Option(help: "Resource types to rename, comma-separated (default: image,video,raw).") var resourceTypes: String?
    @Flag(help: "Replace assets that exist at the targets.") var overwrite = false
    @Flag(inversion: .prefixedNo, help: "Invalidate CDN caches and confirm it before completing.") var invalidate = true
    @Option(help: "Callback URL (must be allowed for the client).") var callbackURL: String?
    @Option(help: "Free text echoed back in the job.") var clientReference: String?

    func run() async throws {
        var body: [String: Any] = ["from_folder": from, "to_folder": to, "dry_run": dryRun, "overwrite": overwrite, "invalidate": invalidate]
        body["cloud"] = cloud
        body["resource_types"] = resourceTypes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        body["callback_url"] = callbackURL
        body["client_reference"] = clientReference
        try await daemon.submit("/v1/folder-renames", body)
    }
}

/// `batch FILE`: up to 1,000 renames in one job, SPEC §11.
struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit up to 1,000 renames as one batch from FILE; with --wait, print progress until it ends.",
        discussion: """
            FILE (or - for standard input) holds either CSV lines `from,to` (an optional header line \
            `from,to`; fields with commas in double quotes) or JSON lines, one rename object per line \
            (fields of POST /v1/renames but callback_url and invalidate). Items run in file order where \
            they share a public ID. Exits 0 when accepted (with --wait: completed), 1 when refused, failed or cancelled, 3 when --wait timed out.
            """
    )

    @Argument(help: "CSV or JSON-lines file of renames, or - for standard input.") var file: String
    @Flag(help: "Change nothing: report which targets exist and the first 100 items.") var dryRun = false
    @OptionGroup var daemon: DaemonClient
    @Flag(inversion: .prefixedNo, help: "Invalidate CDN caches and confirm it before completing.") var invalidate = true
    @Option(help: "Callback URL (must be allowed for the client).") var callbackURL: String?
    @Option(help: "Free text echoed back in the job.") var clientReference: String?

    func run() async throws {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let items = try BatchFile.items(String(decoding: data, as: UTF8.self))
        var body: [String: Any] = ["items": items, "invalidate": invalidate, "dry_run": dryRun]
        body["callback_url"] = callbackURL
        body["client_reference"] = clientReference
        try await daemon.submit("/v1/batches", body)
    }
}

/// Reads a batch file: CSV `from,to` or JSON lines.
enum BatchFile {
    static func items(_ text: String) throws -> [[String: Any]] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { throw ValidationError("the batch file holds no renames") }
        if first.hasPrefix("{") {
            return try lines.enumerated().map { index, line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw ValidationError("line \(index + 1): not a JSON object")
                }
                return object
            }
        }
        var items: [[String: Any]] = []
        for (index, line) in lines.enumerated() {
            let fields = try csvFields(line, line: index + 1)
            if index == 0, ["from,to", "from_public_id,to_public_id"].contains(fields.joined(separator: ",").lowercased()) { continue }
            guard fields.count == 2 else { throw ValidationError("line \(index + 1): expected two fields, from and to") }
            items.append(["from_public_id": fields[0], "to_public_id": fields[1]])
        }
        return items
    }

    /// The fields of one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote).
    static func csvFields(_ line: String, line number: Int) throws -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(line)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        field.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" && field.isEmpty {
                quoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
        }
        guard !quoted else { throw ValidationError("line \(number): unterminated quote") }
        fields.append(field)
        return fields
    }
}
