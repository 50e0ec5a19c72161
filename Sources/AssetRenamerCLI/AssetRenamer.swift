import ArgumentParser
import RenamerServer

@main
struct AssetRenamer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asset-renamer",
        abstract: "Renames Cloudinary assets for other services, confirms CDN invalidation, and calls back.",
        version: BuildInfo.version,
        subcommands: [
            Demo.self, Serve.self, CheckConfig.self, HashToken.self, Rename.self, Move.self, FolderRename.self, Batch.self, Get.self,
            List.self, Cancel.self, Backup.self,
        ]
    )
}
